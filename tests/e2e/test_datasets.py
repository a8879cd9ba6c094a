"""Public datasets the pipeline was not written around run to a pushed model by config alone.

scikit-learn's bundled tables (binary, two multiclass, regression), each clean and as a user's
dirty copy (BOM, semicolons, CRLF, `NA`/`N/A`/empty cells, a binary label written `True` and
`False`), through the CLI with a config that
names only the label, its kind and the features: no bucketized feature, no threshold (the
default gate), the optimization stage on. Each run pushes a model that beats the naive predictor
on its own eval split, measured here from the examples the pipeline split off.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.fixtures.cli import states_of_run

pytestmark = pytest.mark.slow

MATRIX = [(name, dirty) for name in ("breast_cancer", "iris", "wine", "diabetes")
          for dirty in (False, True)]


def _eval_labels(pipeline_dir: Path, run_id: str) -> list[bytes]:
    """The label of every example of the eval split the run's ExampleGen wrote."""
    from pipeline.records.mlmd import open_store, run_nodes

    nodes = run_nodes(open_store(pipeline_dir / "metadata.sqlite"), pipeline_dir.name, run_id)
    examples = nodes["CsvExampleGen"].outputs["examples"][0]
    labels = []
    for record in tf.data.TFRecordDataset(
            tf.io.gfile.glob(f"{examples.uri}/Split-eval/*.gz"), compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature["target"]
        values = feature.bytes_list.value or feature.float_list.value or feature.int64_list.value
        labels.append(values[0])
    return labels


def _naive(kind: str, labels: list) -> tuple[str, float]:
    """(metric, value) of the best constant predictor on these labels."""
    if kind == "binary":
        return "auc", 0.5
    if kind == "multiclass":
        _, counts = np.unique(labels, return_counts=True)
        return "sparse_categorical_accuracy", counts.max() / counts.sum()
    return "mean_squared_error", float(np.var(np.asarray(labels, dtype=float)))


@pytest.fixture(scope="module", autouse=True)
def _all_runs_started(user_runs):
    """Every run of the matrix started now, two at a time, while the tests read them in order."""
    user_runs.prefetch(MATRIX)


@pytest.mark.parametrize(("name", "dirty"), MATRIX,
                         ids=[f"{n}-{'dirty' if d else 'clean'}" for n, d in MATRIX])
def test_a_new_users_csv_runs_to_a_pushed_model_that_beats_the_naive_predictor(
        user_runs, name, dirty):
    run = user_runs.get(name, dirty)
    out = run.process.stdout + run.process.stderr
    assert run.process.returncode == 0, out[-4000:]
    assert "Traceback" not in out
    summary = run.summary
    assert summary["pushed_version"] == "1"  # as TFX records it
    assert "no threshold is configured: the model must beat the naive predictor" in (
        summary["gate"])
    if dirty:
        assert "delimiter ';'" in out  # found from the header, and said so
        # The BOM is not part of the first column's name; NA, N/A and empty cells of the
        # categorical column are missing, not categories of their own.
        schema = (run.pipeline_dir / "serving" / name / "1" / "schema.pbtxt").read_text()
        assert "\ufeff" not in schema and f'name: "{run.dataset.header[0]}"' in schema
        band = re.search(r'string_domain \{\s*name: "band"((?:\s*value: "[^"]*")*)', schema)
        assert re.findall(r'value: "([^"]*)"', band[1]) == ["q1", "q2", "q3", "q4"]
    labels = _eval_labels(run.pipeline_dir, summary["run_id"])
    metric, naive = _naive(run.dataset.kind, labels)
    manifest = json.loads((run.pipeline_dir / "serving" / name / "1" / "manifest.json"
                           ).read_text())
    value = manifest["metrics"]["overall"][metric]
    higher_is_better = metric != "mean_squared_error"
    assert (value > naive) if higher_is_better else (value < naive), (metric, value, naive)
    assert manifest["metrics"]["overall"]["example_count"] == len(labels)
    # The optimization stage ran on a model without bucketized features, and judged variants.
    states = states_of_run(run.pipeline_dir / "metadata.sqlite", name, summary["run_id"])
    assert states["ModelOptimizer"] == "COMPLETE" and states["VariantEvaluator"] == "COMPLETE"
    assert {v["name"] for v in summary["variants"]} >= {"pruned", "tflite_dynamic"}
    # What the outputs mean, for clients: the manifest and each TFLite variant's
    # preprocessing.json say it alike (a multiclass model's classes in output order).
    outputs = manifest["model"]["outputs"]
    assert outputs["kind"] == run.dataset.kind
    if run.dataset.kind == "binary":
        assert outputs["positive"] == "target > 0 or true/yes"
    if run.dataset.kind == "multiclass":
        assert sorted(outputs["classes"]) == sorted(set(r[-1] for r in run.dataset.rows))
    described = list((run.pipeline_dir / "pipeline_root" / "ModelOptimizer").glob(
        "*/*/tflite_*/preprocessing.json"))
    assert len(described) == 2
    assert all(json.loads(p.read_text())["outputs"] == outputs for p in described)
