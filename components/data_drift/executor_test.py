"""DataDrift executor on small real Examples artifacts (gzipped TFRecords of tf.Examples)."""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from tensorflow_metadata.proto.v0 import schema_pb2  # noqa: E402
from tfx.types import artifact_utils, standard_artifacts  # noqa: E402

from components.data_drift.component import DataDriftReport  # noqa: E402
from components.data_drift.executor import REPORT_FILE, Executor  # noqa: E402

LABEL = {"column": "tips", "kind": "binary", "positive_values": None,
         "derive": {"type": "ratio_above", "denominator": "fare", "threshold": 0.2}}
SCHEMA = """
feature { name: "fare" type: FLOAT
  drift_comparator { jensen_shannon_divergence { threshold: 0.3 } }
  skew_comparator { jensen_shannon_divergence { threshold: 0.1 } } }
feature { name: "tips" type: FLOAT }
feature { name: "payment_type" type: BYTES
  drift_comparator { infinity_norm { threshold: 0.3 } }
  skew_comparator { infinity_norm { threshold: 0.1 } } }
"""


def _example(fare: float, tips: float, payment: str) -> bytes:
    feature = {
        "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[fare])),
        "tips": tf.train.Feature(float_list=tf.train.FloatList(value=[tips])),
        "payment_type": tf.train.Feature(bytes_list=tf.train.BytesList(value=[payment.encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _rows(n: int, positive: float, seed: int, card: float = 0.5) -> list[bytes]:
    """n trips with fares ~ 5..30; a share `positive` tip more than 20% of the fare."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        fare = float(rng.uniform(5, 30))
        tips = fare * (0.3 if i < round(positive * n) else 0.05)
        rows.append(_example(fare, tips, "Credit Card" if rng.random() < card else "Cash"))
    return rows


def _examples(tmp_path, name: str, span: int, splits: dict[str, list[bytes]]):
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / name)
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    artifact.set_int_custom_property("span", span)
    artifact.id = span  # unique within a test, as MLMD ids are
    for split, records in splits.items():
        path = os.path.join(artifact.uri, f"Split-{split}", "data_tfrecord-00000-of-00001.gz")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for record in records:
                writer.write(record)
    return artifact


def _schema(tmp_path):
    artifact = standard_artifacts.Schema()
    artifact.uri = str(tmp_path / "schema")
    os.makedirs(artifact.uri)
    schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
    (tmp_path / "schema" / "schema.pbtxt").write_text(text_format.MessageToString(schema))
    return artifact


def _run(tmp_path, examples, baseline=None, window=None, threshold=0.18):
    report = DataDriftReport()
    report.uri = str(tmp_path / "report")
    os.makedirs(report.uri)
    inputs = {"examples": [examples], "schema": [_schema(tmp_path)]}
    if baseline is not None:
        inputs["baseline_examples"] = [baseline]
    if window is not None:
        inputs["window_examples"] = window
    Executor().Do(inputs, {"report": [report]},
                  {"label": json.dumps(LABEL), "label_drift_threshold": threshold})
    with open(os.path.join(report.uri, REPORT_FILE)) as handle:
        return report, json.load(handle)


def _split(rows):
    return {"train": rows[: len(rows) * 3 // 4], "eval": rows[len(rows) * 3 // 4:]}


def test_label_split_moving_from_50_50_to_70_30_exceeds_the_label_threshold(tmp_path):
    previous = _examples(tmp_path, "span1", 1, _split(_rows(400, 0.5, seed=1)))
    current = _examples(tmp_path, "span2", 2, _split(_rows(400, 0.7, seed=2)))
    report, content = _run(tmp_path, current, baseline=previous)
    rows = {r["feature"]: r for r in content["drift"]}
    label = rows["label"]
    assert label["comparator"] == "infinity_norm"
    assert label["value"] == pytest.approx(0.20, abs=1e-6)
    assert label["threshold"] == pytest.approx(0.18) and label["exceeded"] is True
    assert (label["span"], label["previous_span"]) == (2, 1)
    assert content["label"]["rule"] == "tips > 0.2 * fare"
    assert content["label"]["previous_distribution"] == {"0": 0.5, "1": 0.5}
    assert content["label"]["span_distribution"] == {"1": 0.7, "0": 0.3}
    # The other features were drawn from the same distributions: measured, under threshold.
    assert rows["payment_type"]["exceeded"] is False and rows["fare"]["exceeded"] is False
    assert rows["fare"]["comparator"] == "jensen_shannon_divergence"
    assert report.get_int_custom_property("drift_exceeded") == 1
    assert report.get_float_custom_property("drift:label") == pytest.approx(0.2, abs=1e-6)
    assert report.get_int_custom_property("previous_span") == 1


def test_a_steady_span_records_every_value_under_threshold(tmp_path):
    previous = _examples(tmp_path, "span1", 1, _split(_rows(400, 0.25, seed=1)))
    current = _examples(tmp_path, "span2", 2, _split(_rows(400, 0.3, seed=2)))
    report, content = _run(tmp_path, current, baseline=previous)
    assert {r["feature"] for r in content["drift"]} == {"label", "fare", "payment_type"}
    assert not any(r["exceeded"] for r in content["drift"])
    label = next(r for r in content["drift"] if r["feature"] == "label")
    assert label["value"] == pytest.approx(0.05, abs=1e-6)
    assert report.get_int_custom_property("drift_exceeded") == 0
    assert content["skew"] == []  # no window given


def test_first_span_has_no_previous_span_and_no_drift(tmp_path):
    current = _examples(tmp_path, "span1", 1, _split(_rows(200, 0.3, seed=1)))
    report, content = _run(tmp_path, current)
    assert content["previous_span"] is None and content["drift"] == []
    assert report.get_int_custom_property("previous_span") == -1


def test_train_and_eval_of_the_window_are_compared_for_skew(tmp_path):
    spans = []
    for span in (1, 2):
        rows = _rows(300, 0.3, seed=span, card=0.5)
        skewed_eval = _rows(100, 0.3, seed=10 + span, card=0.9)  # eval: mostly credit cards
        spans.append(_examples(tmp_path, f"span{span}", span,
                               {"train": rows, "eval": skewed_eval}))
    report, content = _run(tmp_path, spans[1], baseline=spans[0], window=spans)
    skew = {r["feature"]: r for r in content["skew"]}
    assert set(skew) == {"fare", "payment_type"}  # the label has no skew comparator
    assert skew["payment_type"]["exceeded"] is True
    assert skew["payment_type"]["value"] > 0.3
    assert skew["payment_type"]["spans"] == [1, 2]
    assert report.get_int_custom_property("skew_exceeded") >= 1
    assert content["window_spans"] == [1, 2]
