"""End to end: the real pipeline (TFX local runner, Beam, MLMD in SQLite) on a taxi sample.

The runs (`first`, `again`, `strict`) are the session fixture `taxi_runs` of tests/fixtures/taxi.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.fixtures.cli import csv_rows, raw_types, run_cli, states_of_run, to_example

pytestmark = pytest.mark.slow

def test_first_run_pushes_version_1(taxi_runs):
    process, run_id = taxi_runs.process("first"), taxi_runs.run_id("first")
    assert process.returncode == 0, process.stdout + process.stderr
    states = states_of_run(taxi_runs.metadata, "taxi", run_id)
    expected = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                "previous_span_resolver", "window_resolver", "SpanWindow", "DataDrift",
                "DataGate", "Transform", "Trainer", "latest_blessed_model_resolver",
                "Evaluator", "BaselineScores", "NaiveBaselines", "VersionedPusher",
                "ModelOptimizer", "PrunedModelEvaluator", "VariantEvaluator"}
    assert set(states) == expected
    # The schema was imported by the backfill of span 31 already, the rest runs here.
    assert states.pop("ImportSchemaGen") == "CACHED"
    assert all(state == "COMPLETE" for state in states.values()), states
    version_dir = taxi_runs.model_dir / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert sorted(p.name for p in version_dir.parent.iterdir()) == ["1"]


def test_baseline_scores_need_the_model_not_its_evaluation(taxi_runs):
    """The baselines are scored from the model and examples alone, so the scores can run beside
    the Evaluator; the lift gate reads both."""
    from pipeline.records.mlmd import open_store, run_nodes

    records = run_nodes(open_store(taxi_runs.metadata), "taxi", taxi_runs.run_id("first"))
    scores, gate, trainer = records["BaselineScores"], records["NaiveBaselines"], records["Trainer"]
    assert set(scores.inputs) == {"examples", "model"}
    assert scores.inputs["model"][0].id == trainer.outputs["model"][0].id
    assert set(gate.inputs) == {"scores", "model_evaluation", "model_blessing"}
    assert gate.inputs["scores"][0].id == scores.outputs["scores"][0].id


def test_terminal_shows_progress_and_summary_but_no_tensorflow_noise(taxi_runs):
    process, run_id = taxi_runs.process("first"), taxi_runs.run_id("first")
    out = process.stdout
    for node in ("CsvExampleGen", "Transform", "Trainer", "Evaluator", "VersionedPusher"):
        assert f"  {node}" in out
    assert "rows read: train" in out and "anomalies: 0" in out
    assert "metrics (overall): " in out and "auc=" in out
    assert "worst slices by auc:" in out
    # The key slice (card payments) first, with the naive baselines' figures on it.
    assert out.index("key slices:\n  payment_type=Credit Card ") < out.index("metrics (overall)")
    assert "naive baselines (auc, overall): " in out
    assert re.search(r"over prior \(required > 0\.0\d{3}: 2 standard errors of auc by chance on "
                     r"the eval split, 0\.0\d{3} each: evaluation\.chance_margin\)", out), out
    assert "pushed: version 1 -> " in out
    assert "outcome: pushed (exit 0)" in out
    assert "tensorflow" not in (out + process.stderr).lower()
    log = (taxi_runs.pipeline_dir / "runs" / run_id / "run.log").read_text()
    assert "tensorflow" in log.lower()
    # The Evaluator's metrics were combined a batch at a time (pipeline/orchestration/
    # tfma_sliced_metrics.py); the figures are asserted against stock TFMA in
    # tests/test_tfma_sliced_metrics.py.
    assert "TFMA metrics per slice: a batch of examples at a time, in closed form" in log
    assert "TFMA's per-example step" not in log


def test_manifest_links_model_to_data_schema_hyperparameters_and_code(taxi_runs):
    manifest = json.loads(
        (taxi_runs.model_dir / "1" / "manifest.json").read_text())
    assert manifest["version"] == 1
    assert manifest["pipeline_run_id"] == taxi_runs.run_id("first")
    # The window: six monthly spans, 2015-07 to 2015-12 (2,231 trips), each with its file.
    assert [s["span"] for s in manifest["spans"]] == [31, 32, 33, 34, 35, 36]
    files = manifest["data_files"]
    assert [Path(f["path"]).name for f in files][-1] == "2015-12.csv"
    assert sum(f["rows"] for f in files) == 2231 and all(len(f["sha256"]) == 64 for f in files)
    assert manifest["examples"]["span"] == 36
    assert manifest["examples"]["window_spans"] == [31, 32, 33, 34, 35, 36]
    assert manifest["schema"]["sha256"]
    assert manifest["hyperparameters"]["model"]["train_steps"] == 300
    assert "git_commit" in manifest["code_revision"]
    assert manifest["baseline_version"] is None
    overall = manifest["metrics"]["overall"]
    assert 0.7 <= overall["auc"] <= 1.0
    assert overall["example_count"] > 500
    sliced = {tuple(s["slice"]) for s in manifest["metrics"]["slices"]}
    assert ("payment_type",) in sliced and ("payment_type", "trip_start_hour") in sliced


def _transform_graph_uri(taxi_runs):
    from pipeline.records.mlmd import open_store, run_nodes

    nodes = run_nodes(open_store(taxi_runs.metadata), "taxi",
                      taxi_runs.run_id("first"))
    return nodes["Transform"].outputs["transform_graph"][0].uri


def test_pushed_model_scores_raw_examples_without_the_label(taxi_runs):
    model = tf.saved_model.load(
        str(taxi_runs.model_dir / "1"))
    types = raw_types(_transform_graph_uri(taxi_runs))
    examples = [to_example(r, types, drop=("tips",)) for r in csv_rows(taxi_runs.data_csv, 50)]
    scores = model.signatures["serving_default"](examples=tf.constant(examples))["outputs"]
    assert scores.shape == (50, 1)
    values = scores.numpy().ravel()
    assert np.all((values >= 0) & (values <= 1)) and values.std() > 0


def test_no_model_input_depends_on_the_label_column(taxi_runs):
    """Changing `tips` changes the label and nothing the model sees."""
    model = tf.saved_model.load(
        str(taxi_runs.model_dir / "1"))
    types = raw_types(_transform_graph_uri(taxi_runs))
    rows = csv_rows(taxi_runs.data_csv, 20)
    low = [to_example({**r, "tips": "0"}, types) for r in rows]
    high = [to_example({**r, "tips": "1000"}, types) for r in rows]
    transform = model.signatures["transform_features"]
    a, b = transform(examples=tf.constant(low)), transform(examples=tf.constant(high))
    assert "label_xf" in a and not any(k.startswith("tips") for k in a)
    for key in a:
        if key != "label_xf":
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    assert not np.array_equal(a["label_xf"].numpy(), b["label_xf"].numpy())


def test_saved_model_cli_lists_the_serving_signature(taxi_runs):
    version_dir = taxi_runs.model_dir / "1"
    cli = Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--dir", str(version_dir), "--tag_set", "serve",
                            "--signature_def", "serving_default"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "inputs['examples'] tensor_info" in shown.stdout
    assert "outputs['outputs'] tensor_info" in shown.stdout


def test_rerun_with_nothing_changed_is_served_from_cache(taxi_runs):
    process, run_id = taxi_runs.process("again"), taxi_runs.run_id("again")
    assert process.returncode == 0, process.stdout + process.stderr
    states = states_of_run(taxi_runs.metadata, "taxi", run_id)
    # Resolver nodes resolve again on every run (they have no cache); everything else is cached.
    cached = {node: s for node, s in states.items() if not node.endswith("resolver")}
    assert set(cached.values()) == {"CACHED"}, states
    assert "(unchanged: served from cache)" in process.stdout
    versions = taxi_runs.model_dir
    assert sorted(p.name for p in versions.iterdir()) == ["1"]


def test_unreachable_threshold_is_not_blessed_and_pushes_nothing(taxi_runs):
    process, run_id = taxi_runs.process("strict"), taxi_runs.run_id("strict")
    assert process.returncode == 3, process.stdout + process.stderr
    assert "blessed: NO" in process.stdout
    assert "failed: auc on overall:" in process.stdout and ">= 0.999" in process.stdout
    assert "failed: lift of auc over the best naive baseline (logistic, " in process.stdout
    assert "required > 0.5 (evaluation.min_lift)" in process.stdout
    assert "outcome: not blessed (exit 3)" in process.stdout
    summary = taxi_runs.summary("strict")
    assert summary["blessed"] is False and summary["pushed"] is False
    assert summary["baselines"]["passed"] is False and summary["baselines"]["lift"] < 0.5
    states = states_of_run(taxi_runs.metadata, "taxi", run_id)
    assert states["Evaluator"] == "COMPLETE" and states["VersionedPusher"] == "COMPLETE"
    versions = taxi_runs.model_dir
    assert sorted(p.name for p in versions.iterdir()) == ["1"]


def test_runs_command_lists_runs_and_versions(taxi_runs):
    process = run_cli("runs", "--config", str(taxi_runs.config),
                      "--output-root", str(taxi_runs.out), "--json")
    assert process.returncode == 0, process.stderr
    listed = json.loads(process.stdout)
    outcomes = [r["outcome"] for r in listed["runs"]]
    assert outcomes == ["pushed", "pushed", "not blessed"]
    assert [r["spans"] for r in listed["runs"]] == [list(range(31, 37))] * 3
    assert [r["backfilled_spans"] for r in listed["runs"]] == [list(range(31, 36)), [], []]
    text = run_cli("runs", "--config", str(taxi_runs.config), "--output-root",
                   str(taxi_runs.out)).stdout
    assert "version 1                spans 31-36 (backfilled 31-35)" in text
    assert [v["version"] for v in listed["versions"]] == [1]


def test_worst_slices_rank_only_slices_holding_both_classes(taxi_runs):
    summary = taxi_runs.summary("first")
    worst = summary["worst_slices"]
    assert worst, "expected ranked slices"
    assert all(0.0 < row["metrics"]["mean_label"] < 1.0 for row in worst)
    assert all(row["metrics"]["example_count"] >= 30 for row in worst)
    # Cash trips record (almost) no tips: a slice of one class, reported apart, not ranked.
    assert "payment_type=Cash" in summary["single_class_slices"]
    assert "not ranked, one class only" in taxi_runs.process("first").stdout


def test_nothing_is_written_to_the_home_directory(taxi_runs):
    assert sorted(p.name for p in taxi_runs.home.iterdir()) == []
    assert (taxi_runs.out / ".keras" / "keras.json").is_file()
