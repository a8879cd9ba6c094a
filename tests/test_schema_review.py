"""The schema review's diff: what a reviewer must decide on, and nothing else."""

from __future__ import annotations

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from pipeline.schema_review import diff_schemas, render

CURATED = """
feature { name: "fare" type: FLOAT presence { min_fraction: 1 min_count: 1 }
          float_domain { min: 0 max: 1000 } shape { dim { size: 1 } } }
feature { name: "payment_type" type: BYTES domain: "payment_type"
          presence { min_fraction: 1 min_count: 1 } shape { dim { size: 1 } } }
feature { name: "company" type: BYTES value_count { max: 1 } presence { min_fraction: 1 } }
feature { name: "tips" type: FLOAT presence { min_fraction: 1 min_count: 1 } }
string_domain { name: "payment_type" value: "Cash" value: "Credit Card" }
"""
INFERRED = """
feature { name: "fare" type: BYTES presence { min_fraction: 1 min_count: 1 }
          shape { dim { size: 1 } } }
feature { name: "payment_type" type: BYTES domain: "payment_type"
          presence { min_fraction: 1 min_count: 1 } shape { dim { size: 1 } } }
feature { name: "company" type: BYTES value_count { max: 1 }
          presence { min_fraction: 0.5 min_count: 1 } }
feature { name: "surge" type: FLOAT presence { min_fraction: 1 min_count: 1 } }
string_domain { name: "payment_type" value: "Cash" value: "Bitcoin" }
"""


def _schema(text: str) -> schema_pb2.Schema:
    return text_format.Parse(text, schema_pb2.Schema())


def test_differences_a_reviewer_must_decide_on():
    diffs = {(d.feature, d.aspect): d for d in diff_schemas(_schema(CURATED), _schema(INFERRED))}
    assert set(diffs) == {("surge", "new column"), ("tips", "missing column"),
                          ("fare", "type"), ("company", "presence"),
                          ("payment_type", "domain")}
    assert (diffs["fare", "type"].curated, diffs["fare", "type"].inferred) == ("FLOAT", "BYTES")
    assert "Bitcoin" in diffs["payment_type", "domain"].note
    assert "required" in diffs["tips", "missing column"].note


def test_values_outside_the_curated_range_are_shown_from_the_statistics():
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats.datasets.add(num_examples=10).features.add()
    feature.path.step.append("fare")
    feature.num_stats.min, feature.num_stats.max = -5.0, 20.0
    inferred = _schema(CURATED)  # same schema: only the range differs
    [diff] = diff_schemas(_schema(CURATED), inferred, stats)
    assert (diff.feature, diff.aspect) == ("fare", "range")
    assert (diff.curated, diff.inferred) == ("[0, 1000]", "[-5, 20] observed")
    lines = render([diff], 4, "header")
    assert lines[0] == "header" and "fare  range" in lines[1]
    assert render([], 4, "header")[1].strip().startswith("no differences")
