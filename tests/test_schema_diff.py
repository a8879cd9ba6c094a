"""The schema review's diff: what a reviewer must decide on, and nothing else."""

from __future__ import annotations

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from pipeline.review.schema_diff import diff_schemas, render

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
          presence { min_fraction: 0.9 min_count: 1 } value_count { min: 1 max: 1 } }
feature { name: "company" type: BYTES value_count { min: 1 max: 1 }
          presence { min_fraction: 0.5 min_count: 1 } }
feature { name: "surge" type: FLOAT presence { min_fraction: 1 min_count: 1 } }
string_domain { name: "payment_type" value: "Cash" value: "Bitcoin" }
"""


def _schema(text: str) -> schema_pb2.Schema:
    return text_format.Parse(text, schema_pb2.Schema())


def test_differences_a_reviewer_must_decide_on():
    diffs = {(d.feature, d.aspect): d for d in diff_schemas(_schema(CURATED), _schema(INFERRED))}
    # company: the CSV decoder reads an empty cell as missing, CsvExampleGen writes it as no
    # values, which the curated 0..1 allows: half the rows empty is not a difference.
    # payment_type must hold exactly one value: 10% missing is one.
    assert set(diffs) == {("surge", "new column"), ("tips", "missing column"),
                          ("fare", "type"), ("payment_type", "presence"),
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


def test_a_column_without_any_value_is_shown_as_empty_not_as_a_type_change():
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats.datasets.add(num_examples=10).features.add()
    feature.path.step.append("company")
    feature.string_stats.common_stats.num_missing = 10
    inferred = _schema(CURATED)
    inferred.feature[2].type = schema_pb2.INT  # what inference makes of no values at all
    [diff] = diff_schemas(_schema(CURATED), inferred, stats)
    assert (diff.feature, diff.aspect, diff.inferred) == ("company", "empty column", "no values")


def test_empty_cells_are_not_a_change_of_values_per_example_but_two_values_are():
    """Some empty cells: TFDV infers no bound on the values per example; what the statistics
    saw (0 or 1 value in every example) fits the curated 0..1; 2 values in one does not."""
    def company(max_values: int) -> list:
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        feature = stats.datasets.add(num_examples=10).features.add()
        feature.path.step.append("company")
        common = feature.string_stats.common_stats
        common.num_missing, common.num_non_missing = 3, 7
        common.min_num_values, common.max_num_values = 1, max_values
        inferred = _schema(CURATED)
        inferred.feature[2].ClearField("value_count")  # what inference makes of empty cells
        return [(d.feature, d.aspect) for d in diff_schemas(_schema(CURATED), inferred, stats)]

    assert company(1) == []
    assert company(2) == [("company", "values per example")]
