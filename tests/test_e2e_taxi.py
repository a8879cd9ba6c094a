"""End to end: the real pipeline (TFX local runner, Beam, MLMD in SQLite) on a taxi sample.

Three runs share one output root, as a user's successive runs would:
1. a fresh run trains, evaluates and pushes version 1 with its manifest;
2. the same run again is served from cache and pushes nothing new;
3. a run with an unreachable AUC floor completes, is not blessed, pushes nothing, exits 3.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.e2e_helpers import (
    TAXI_CONFIG,
    csv_rows,
    last_run_id,
    raw_types,
    read_summary,
    run_cli,
    states_of_run,
    to_example,
    write_config,
)

pytestmark = pytest.mark.slow

QUICK = {
    "sample_rows = 0 ": "sample_rows = 3000 ",
    "train_steps = 2000": "train_steps = 300",
    "steps_per_epoch = 200": "steps_per_epoch = 100",
    "batch_size = 256": "batch_size = 128",
    "eval_steps = 20": "eval_steps = 5",
    "lower_bound = 0.80 ": "lower_bound = 0.70 ",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("taxi")
    config = write_config(root / "taxi.toml", TAXI_CONFIG, {
        **QUICK, 'dir = "data/materialized/taxi"': f'dir = "{root / "data"}"'})
    unreachable = write_config(root / "strict.toml", config,
                               {"lower_bound = 0.70 ": "lower_bound = 0.999 "})
    out = root / "out"
    results = {}
    for name, cfg in [("first", config), ("again", config), ("strict", unreachable)]:
        process = run_cli("run", "--config", str(cfg), "--output-root", str(out))
        results[name] = (process, last_run_id(out / "taxi" / "runs"))
    return {"out": out, "config": config, "results": results}


def _summary(runs, name):
    return read_summary(runs["out"] / "taxi" / "runs", runs["results"][name][1])


def test_first_run_pushes_version_1(runs):
    process, run_id = runs["results"]["first"]
    assert process.returncode == 0, process.stdout + process.stderr
    states = states_of_run(runs["out"] / "taxi" / "metadata.sqlite", "taxi", run_id)
    expected = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                "DataGate", "Transform", "Trainer", "latest_blessed_model_resolver",
                "Evaluator", "VersionedPusher"}
    assert set(states) == expected
    assert all(state == "COMPLETE" for state in states.values()), states
    version_dir = runs["out"] / "taxi" / "serving" / "taxi_big_tipper" / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert sorted(p.name for p in version_dir.parent.iterdir()) == ["1"]


def test_terminal_shows_progress_and_summary_but_no_tensorflow_noise(runs):
    process, run_id = runs["results"]["first"]
    out = process.stdout
    for node in ("CsvExampleGen", "Transform", "Trainer", "Evaluator", "VersionedPusher"):
        assert f"  {node}" in out
    assert "rows read: train" in out and "anomalies: 0" in out
    assert "metrics (overall): " in out and "auc=" in out
    assert "worst slices by auc:" in out
    assert "pushed: version 1 -> " in out
    assert "outcome: pushed (exit 0)" in out
    assert "tensorflow" not in (out + process.stderr).lower()
    log = (runs["out"] / "taxi" / "runs" / run_id / "run.log").read_text()
    assert "tensorflow" in log.lower()


def test_manifest_links_model_to_data_schema_hyperparameters_and_code(runs):
    manifest = json.loads(
        (runs["out"] / "taxi" / "serving" / "taxi_big_tipper" / "1" / "manifest.json").read_text())
    assert manifest["version"] == 1
    assert manifest["pipeline_run_id"] == runs["results"]["first"][1]
    [data_file] = manifest["data_files"]
    assert data_file["rows"] == 3000 and len(data_file["sha256"]) == 64
    assert manifest["schema"]["sha256"]
    assert manifest["hyperparameters"]["model"]["train_steps"] == 300
    assert "git_commit" in manifest["code_revision"]
    assert manifest["baseline_version"] is None
    overall = manifest["metrics"]["overall"]
    assert 0.7 <= overall["auc"] <= 1.0
    assert overall["example_count"] > 500
    sliced = {tuple(s["slice"]) for s in manifest["metrics"]["slices"]}
    assert ("payment_type",) in sliced and ("payment_type", "trip_start_hour") in sliced


def _transform_graph_uri(runs):
    from pipeline.mlmd import open_store, run_nodes

    nodes = run_nodes(open_store(runs["out"] / "taxi" / "metadata.sqlite"), "taxi",
                      runs["results"]["first"][1])
    return nodes["Transform"].outputs["transform_graph"][0].uri


def test_pushed_model_scores_raw_examples_without_the_label(runs):
    model = tf.saved_model.load(
        str(runs["out"] / "taxi" / "serving" / "taxi_big_tipper" / "1"))
    types = raw_types(_transform_graph_uri(runs))
    data = runs["config"].parent / "data" / "data.csv"
    examples = [to_example(r, types, drop=("tips",)) for r in csv_rows(data, 50)]
    scores = model.signatures["serving_default"](examples=tf.constant(examples))["outputs"]
    assert scores.shape == (50, 1)
    values = scores.numpy().ravel()
    assert np.all((values >= 0) & (values <= 1)) and values.std() > 0


def test_no_model_input_depends_on_the_label_column(runs):
    """Changing `tips` changes the label and nothing the model sees."""
    model = tf.saved_model.load(
        str(runs["out"] / "taxi" / "serving" / "taxi_big_tipper" / "1"))
    types = raw_types(_transform_graph_uri(runs))
    data = runs["config"].parent / "data" / "data.csv"
    rows = csv_rows(data, 20)
    low = [to_example({**r, "tips": "0"}, types) for r in rows]
    high = [to_example({**r, "tips": "1000"}, types) for r in rows]
    transform = model.signatures["transform_features"]
    a, b = transform(examples=tf.constant(low)), transform(examples=tf.constant(high))
    assert "label_xf" in a and not any(k.startswith("tips") for k in a)
    for key in a:
        if key != "label_xf":
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    assert not np.array_equal(a["label_xf"].numpy(), b["label_xf"].numpy())


def test_saved_model_cli_lists_the_serving_signature(runs):
    version_dir = runs["out"] / "taxi" / "serving" / "taxi_big_tipper" / "1"
    cli = Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--dir", str(version_dir), "--tag_set", "serve",
                            "--signature_def", "serving_default"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "inputs['examples'] tensor_info" in shown.stdout
    assert "outputs['outputs'] tensor_info" in shown.stdout


def test_rerun_with_nothing_changed_is_served_from_cache(runs):
    process, run_id = runs["results"]["again"]
    assert process.returncode == 0, process.stdout + process.stderr
    states = states_of_run(runs["out"] / "taxi" / "metadata.sqlite", "taxi", run_id)
    cached = {node: s for node, s in states.items() if node != "latest_blessed_model_resolver"}
    assert set(cached.values()) == {"CACHED"}, states
    assert "(unchanged: served from cache)" in process.stdout
    versions = runs["out"] / "taxi" / "serving" / "taxi_big_tipper"
    assert sorted(p.name for p in versions.iterdir()) == ["1"]


def test_unreachable_threshold_is_not_blessed_and_pushes_nothing(runs):
    process, run_id = runs["results"]["strict"]
    assert process.returncode == 3, process.stdout + process.stderr
    assert "blessed: NO" in process.stdout
    assert "failed: auc on overall:" in process.stdout and ">= 0.999" in process.stdout
    assert "outcome: not blessed (exit 3)" in process.stdout
    summary = _summary(runs, "strict")
    assert summary["blessed"] is False and summary["pushed"] is False
    states = states_of_run(runs["out"] / "taxi" / "metadata.sqlite", "taxi", run_id)
    assert states["Evaluator"] == "COMPLETE" and states["VersionedPusher"] == "COMPLETE"
    versions = runs["out"] / "taxi" / "serving" / "taxi_big_tipper"
    assert sorted(p.name for p in versions.iterdir()) == ["1"]


def test_runs_command_lists_runs_and_versions(runs):
    process = run_cli("runs", "--config", str(runs["config"]), "--output-root", str(runs["out"]),
                      "--json")
    assert process.returncode == 0, process.stderr
    listed = json.loads(process.stdout)
    outcomes = [r["outcome"] for r in listed["runs"]]
    assert outcomes == ["pushed", "pushed", "not blessed"]
    assert [v["version"] for v in listed["versions"]] == [1]
