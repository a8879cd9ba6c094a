"""Lineage helpers on small real inputs: TFMA metrics of a candidate and its baseline."""

from __future__ import annotations

import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from pipeline.records.lineage import compared_metrics, render


def _metric(record, name: str, value: float, model: str = "", is_diff: bool = False):
    entry = record.metric_keys_and_values.add()
    entry.key.name = name
    entry.key.model_name = model
    entry.key.is_diff = is_diff
    entry.value.double_value.value = value


def test_candidate_and_baseline_figures_are_read_from_the_evaluation(tmp_path):
    overall = metrics_for_slice_pb2.MetricsForSlice()
    _metric(overall, "auc", 0.93, "candidate")
    _metric(overall, "auc", 0.91, "baseline")
    _metric(overall, "auc", 0.02, "candidate", is_diff=True)
    _metric(overall, "example_count", 1331.0, "candidate")  # no baseline value: not compared
    sliced = metrics_for_slice_pb2.MetricsForSlice()
    sliced.slice_key.single_slice_keys.add(column="payment_type", bytes_value=b"Cash")
    _metric(sliced, "auc", 0.5, "candidate")
    _metric(sliced, "auc", 0.4, "baseline")
    with tf.io.TFRecordWriter(str(tmp_path / "metrics-00000-of-00001.tfrecord")) as writer:
        for record in (overall, sliced):
            writer.write(record.SerializeToString())
    compared = compared_metrics(str(tmp_path))
    assert compared == {"auc": {"candidate": 0.93, "baseline": 0.91, "diff": 0.02}}


def test_the_report_names_the_baseline_and_both_figures():
    info = {
        "version": 2, "model_name": "m", "path": "/serving/m/2", "pushed_at": "t",
        "run_id": "r", "code_revision": {"git_commit": "abc", "dirty": False},
        "hyperparameters": {"model": {"type": "dnn", "seed": 1}, "train_steps": 10,
                            "tuned": {"learning_rate": 0.002}},
        "spans": [{"span": 3, "examples_id": 9, "files": [
            {"path": "/d/span-3/a.csv", "rows": 5, "sha256": "f" * 64,
             "unchanged_on_disk": False, "exists": True}]}],
        "schema": {"source": "/s/schema.pbtxt", "sha256": "e" * 64, "curated": "/c.pbtxt",
                   "same_as_curated_now": True},
        "evaluation": {"baseline_version": 1, "baseline_model": {"uri": "/m/1"},
                       "metrics": {"auc": 0.93},
                       "compared": {"auc": {"candidate": 0.93, "baseline": 0.91, "diff": 0.02}}},
        "problems": ["the manifest names another model artifact than ML Metadata"],
    }
    text = "\n".join(render(info))
    assert ("span 3    span-3/a.csv  5 rows  sha256 ffffffffffff  Examples #9  "
            "CHANGED on disk") in text
    assert "baseline: version 1 (model /m/1)" in text
    assert "auc: this version 0.9300, baseline 0.9100 (diff +0.0200)" in text
    assert "(same as /c.pbtxt now)" in text
    assert ("hyperparameters: type=dnn, seed=1; trainer steps 10\n"
            "  tuned (from the Tuner, replacing the values above): learning_rate=0.002") in text
    assert text.endswith("warning: the manifest names another model artifact than ML Metadata")
    assert "warning: the manifest names another model artifact" in text


def test_a_manifest_cut_or_edited_by_hand_is_one_line_naming_it(toy, tmp_path):
    import pytest

    from pipeline.config import ConfigError, load_config
    from pipeline.records.lineage import lineage

    config = load_config(toy(), str(tmp_path / "out"))
    folder = config.model_dir / "2"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"version": 2, "model": {"path": ')
    with pytest.raises(ConfigError, match=r"manifest.json is not valid JSON .*restore it"):
        lineage(config, 2)
    with pytest.raises(ConfigError, match=r"version 3 of 'toy' is not in .*versions there: 2"):
        lineage(config, 3)
