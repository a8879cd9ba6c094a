"""The same code serves multiclass classification and regression by config alone.

Each test generates a small CSV with a known relation between features and label, writes a
config for it, runs the real pipeline through the CLI, and checks the pushed model learned it.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.fixtures.cli import csv_rows, last_run_id, raw_types, run_cli, to_example

pytestmark = pytest.mark.slow

ROWS = 1200
CONFIG = """
[pipeline]
name = "{name}"
[data]
source = "{csv}"
[label]
column = "target"
kind = "{kind}"
[features]
numeric = ["x1", "x2"]
categorical = ["colour", "grade"]
bucketize = {{ x2 = 4 }}
[transform]
impute = "median"
[model]
type = "{model}"
hidden_units = [16]
train_steps = 600
steps_per_epoch = 100
eval_steps = 5
batch_size = 64
learning_rate = 0.01
[evaluation]
slices = [["colour"]]
min_slice_examples = 10
{thresholds}
"""


def _generate(path, kind: str, seed: int = 7) -> None:
    """x1, x2 numeric (x1 sometimes missing), colour/grade categorical; target depends on them."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue"])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "colour", "grade", "target"])
        for _ in range(ROWS):
            x1, x2 = rng.normal(), rng.normal()
            colour = rng.choice(colours)
            grade = int(rng.integers(0, 4))
            if kind == "multiclass":
                score = x1 + (1.5 if colour == "red" else 0.0)
                target = "low" if score < -0.3 else "mid" if score < 0.8 else "high"
            else:
                value = 3 * x1 - 2 * x2 + (2 if colour == "blue" else 0) + rng.normal(0, 0.3)
                target = f"{value:.4f}"
            x1_cell = "" if rng.random() < 0.05 else f"{x1:.4f}"
            writer.writerow([x1_cell, f"{x2:.4f}", colour, grade, target])


def _run(tmp_path, name, kind, model, thresholds):
    data = tmp_path / f"{name}.csv"
    _generate(data, kind)
    config = tmp_path / f"{name}.toml"
    config.write_text(CONFIG.format(name=name, csv=data, kind=kind, model=model,
                                    thresholds=thresholds))
    out = tmp_path / "out"
    process = run_cli("run", "--config", str(config), "--output-root", str(out))
    assert process.returncode == 0, process.stdout + process.stderr[-3000:]
    version = out / name / "serving" / name / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    run_id = last_run_id(out / name / "runs")
    return data, version, manifest, run_id, out


def _transform_uri(out, name, run_id):
    from pipeline.records.mlmd import open_store, run_nodes

    nodes = run_nodes(open_store(out / name / "metadata.sqlite"), name, run_id)
    return nodes["Transform"].outputs["transform_graph"][0].uri


def _score(version, data, out, name, run_id):
    types = raw_types(_transform_uri(out, name, run_id))
    rows = csv_rows(data, 200)
    examples = [to_example(r, types, drop=("target",)) for r in rows]
    model = tf.saved_model.load(str(version))
    outputs = model.signatures["serving_default"](examples=tf.constant(examples))["outputs"]
    return rows, outputs.numpy()


def test_multiclass_from_config_alone(tmp_path):
    thresholds = "[evaluation.thresholds.accuracy]\nlower_bound = 0.6\n"
    data, version, manifest, run_id, out = _run(tmp_path, "classes", "multiclass", "dnn",
                                                 thresholds)
    assert manifest["metrics"]["overall"]["sparse_categorical_accuracy"] >= 0.6
    rows, probabilities = _score(version, data, out, "classes", run_id)
    assert probabilities.shape == (200, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_regression_from_config_alone(tmp_path):
    thresholds = "[evaluation.thresholds.mse]\nupper_bound = 4.0\n"
    data, version, manifest, run_id, out = _run(tmp_path, "amounts", "regression", "wide_deep",
                                                 thresholds)
    assert manifest["metrics"]["overall"]["mean_squared_error"] <= 4.0
    rows, predictions = _score(version, data, out, "amounts", run_id)
    assert predictions.shape == (200, 1)
    truth = np.array([float(r["target"]) for r in rows])
    assert np.corrcoef(truth, predictions.ravel())[0, 1] > 0.8
