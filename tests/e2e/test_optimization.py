"""End to end: the optimization stage in the taxi runs of tests/fixtures/taxi.py (`taxi_runs`).

`first` prunes and quantizes the trained model, judges every variant per slice against the dense
model and pushes the blessed ones inside version 1; `again` is all cached; `strict` (dense model
not blessed) pushes no variant.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.fixtures.cli import csv_rows, raw_types, states_of_run, to_example

pytestmark = pytest.mark.slow

VARIANTS = ["pruned", "tflite_dynamic", "tflite_int8"]
ROW_KEYS = {"name", "format", "size_bytes", "gzip_bytes", "sparsity", "blessed", "reason",
            "pushed_path", "latency_ms", "deltas"}
DELTA_KEYS = {"slice", "metric", "dense", "variant", "delta", "example_count", "judged"}


def _nodes(taxi_runs, run: str):
    from pipeline.records.mlmd import open_store, run_nodes

    return run_nodes(open_store(taxi_runs.metadata), "taxi", taxi_runs.run_id(run))


def _variants_json(taxi_runs) -> dict:
    uri = _nodes(taxi_runs, "first")["VariantEvaluator"].outputs["variants"][0].uri
    with open(f"{uri}/variants.json") as handle:
        return json.load(handle)


def test_first_run_pushes_the_blessed_variants_inside_version_1(taxi_runs):
    states = states_of_run(taxi_runs.metadata, "taxi", taxi_runs.run_id("first"))
    for node in ("ModelOptimizer", "PrunedModelEvaluator", "VariantEvaluator"):
        assert states[node] == "COMPLETE", states
    version = taxi_runs.model_dir / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    entries = {v["name"]: v for v in manifest["variants"]}
    assert list(entries) == VARIANTS
    blessed = [n for n, v in entries.items() if v["blessed"]]
    assert blessed == VARIANTS, {n: v["reason"] for n, v in entries.items()}
    assert sorted(p.name for p in (version / "variants").iterdir()) == VARIANTS
    assert (version / "variants" / "pruned" / "saved_model.pb").is_file()
    for name in ("tflite_dynamic", "tflite_int8"):
        assert sorted(p.name for p in (version / "variants" / name).iterdir()) == [
            "model.tflite", "preprocessing.json", "schema.pbtxt"]
        assert entries[name]["size_bytes"] == (version / "variants" / name /
                                               "model.tflite").stat().st_size
    assert entries["pruned"]["sparsity"] == pytest.approx(0.8, abs=0.005)
    assert entries["tflite_int8"]["size_bytes"] < entries["tflite_dynamic"]["size_bytes"]
    dense = manifest["optimization"]["dense"]
    assert entries["tflite_int8"]["size_bytes"] < dense["weights_bytes"]
    assert entries["pruned"]["weights_gzip_bytes"] < dense["weights_gzip_bytes"] / 2
    assert dense["latency_ms"]["calls"] == 100


def test_summary_json_variants_follow_the_contract(taxi_runs):
    rows = taxi_runs.summary("first")["variants"]
    assert [r["name"] for r in rows] == VARIANTS
    version = taxi_runs.model_dir / "1"
    for row in rows:
        assert ROW_KEYS <= set(row), row["name"]
        assert row["format"] == ("saved_model" if row["name"] == "pruned" else "tflite")
        assert isinstance(row["size_bytes"], int) and 0 < row["gzip_bytes"] < row["size_bytes"]
        assert row["pushed_path"] == str(version / "variants" / row["name"])
        assert row["latency_ms"]["p50"] > 0 and row["latency_ms"]["calls"] == 100
        assert all(DELTA_KEYS <= set(d) for d in row["deltas"])
        overall = [d for d in row["deltas"] if d["slice"] == {}]
        assert [d["metric"] for d in overall] == ["auc"] and overall[0]["judged"] is True
        assert abs(overall[0]["delta"]) <= 0.05
    assert rows[0]["sparsity"] == pytest.approx(0.8, abs=0.005)
    assert rows[1]["sparsity"] is None and rows[2]["sparsity"] is None


def test_terminal_shows_one_line_per_variant(taxi_runs):
    out = taxi_runs.process("first").stdout
    lines = out.splitlines()
    start = lines.index("variants:")
    shown = lines[start + 1:start + 4]
    assert [line.split()[0] for line in shown] == VARIANTS
    for line in shown:
        assert "blessed, pushed" in line and " overall, p50 " in line and " KB (gzip " in line
        assert "auc " in line and ": within tolerance (auc loss <= 0.05)" in line


def test_pruned_variant_is_judged_by_tfma_against_the_dense_model(taxi_runs):
    """The pruned model's evaluation has the dense Trainer model as its baseline: its baseline
    values are exactly the dense Evaluator's, slice by slice."""
    pruned = next(v for v in _variants_json(taxi_runs)["variants"] if v["name"] == "pruned")
    assert pruned["evaluation"]["by"] == "tfma"
    manifest = json.loads((taxi_runs.model_dir / "1" / "manifest.json").read_text())
    dense = {json.dumps(s["slice"], sort_keys=True): s["metrics"]["auc"]
             for s in manifest["metrics"]["slices"] if "auc" in s["metrics"]}
    dense["{}"] = manifest["metrics"]["overall"]["auc"]
    compared = 0
    for row in pruned["deltas"]:
        key = json.dumps(row["slice"], sort_keys=True)
        if row["dense"] is not None and key in dense:
            assert row["dense"] == pytest.approx(dense[key], abs=1e-9), key
            compared += 1
    assert compared > 20
    small = [d for d in pruned["deltas"] if d["example_count"] < 100]
    assert small and not any(d["judged"] for d in small)
    cash = [d for d in pruned["deltas"] if d["slice"] == {"payment_type": "Cash"}]
    assert cash and not cash[0]["judged"] and "positive" in cash[0]["note"]


def test_pushed_pruned_model_scores_raw_examples_like_the_dense_one(taxi_runs):
    version = taxi_runs.model_dir / "1"
    dense = tf.saved_model.load(str(version)).signatures["serving_default"]
    pruned = tf.saved_model.load(str(version / "variants" / "pruned")).signatures[
        "serving_default"]
    assert pruned.structured_input_signature == dense.structured_input_signature
    uri = _nodes(taxi_runs, "first")["Transform"].outputs["transform_graph"][0].uri
    types = raw_types(uri)
    rows = csv_rows(taxi_runs.data_csv, 300)
    examples = tf.constant([to_example(r, types, drop=("tips",)) for r in rows])
    a = dense(examples=examples)["outputs"].numpy().ravel()
    b = pruned(examples=examples)["outputs"].numpy().ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.9
    assert np.abs(a - b).mean() < 0.1


def test_rerun_keeps_the_pushed_variants_and_strict_run_pushes_none(taxi_runs):
    again = taxi_runs.summary("again")["variants"]
    assert [r["pushed_path"] for r in again] == [r["pushed_path"] for r in
                                                taxi_runs.summary("first")["variants"]]
    strict = taxi_runs.summary("strict")["variants"]
    assert [r["name"] for r in strict] == VARIANTS
    assert all(r["pushed_path"] is None for r in strict)
    assert all("not pushed: the dense model is not blessed" in r["reason"] for r in strict)
    assert "blessed, not pushed" in taxi_runs.process("strict").stdout


def test_tfma_and_tflite_paths_judge_the_same_slices_with_the_same_counts(taxi_runs):
    variants = _variants_json(taxi_runs)["variants"]
    counts = [{json.dumps(d["slice"], sort_keys=True): d["example_count"] for d in v["deltas"]}
              for v in variants]
    assert len(counts[0]) > 50 and counts[0] == counts[1] == counts[2]
    # Dense AUC overall: TFMA's (1,000 thresholds) and the exact one agree closely.
    overall = [next(d for d in v["deltas"] if d["slice"] == {}) for v in variants]
    assert overall[0]["dense"] == pytest.approx(overall[1]["dense"], abs=2e-3)
    assert overall[1]["dense"] == overall[2]["dense"]
