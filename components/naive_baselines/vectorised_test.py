"""The baselines' sliced metrics computed in process (vectorised.py) against TFMA's own pipeline
on the same rows: every slice, every model, every figure the same; and TFMA's pipeline is left
to run (None) wherever the closed forms do not apply."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2
from sklearn.datasets import load_breast_cancer

from components.naive_baselines import vectorised
from components.naive_baselines.rows import SplitRows
from components.naive_baselines.scores_executor import Executor, per_model, record_batch
from components.shared import tfma_closed_forms as closed_forms
from components.shared.tfma_metrics import slice_dict

MODELS = ("prior", "logistic")
SLICES = [["size"], ["company"], ["hour"], ["size", "company"], ["fare"], ["tags"]]


def _config(metrics: list[tfma.MetricConfig], slices=SLICES) -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name=n, label_key="label", prediction_key=n) for n in MODELS],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=s) for s in slices],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)))


SLICED = [tfma.MetricConfig(class_name="ExampleCount"),
          tfma.MetricConfig(class_name="AUC", config=json.dumps({"num_thresholds": 1000})),
          tfma.MetricConfig(class_name="AUCPrecisionRecall")]
AT_CUTOFF = json.dumps({"thresholds": [0.5]})
# The binary task's metrics (pipeline/config/catalogue.py), as the DAG configures them.
OVERALL = SLICED + [
    tfma.MetricConfig(class_name="Precision", config=AT_CUTOFF),
    tfma.MetricConfig(class_name="Recall", config=AT_CUTOFF),
    tfma.MetricConfig(class_name="F1Score", config=AT_CUTOFF),
    tfma.MetricConfig(class_name="BinaryAccuracy", config=json.dumps({"threshold": 0.5})),
    tfma.MetricConfig(class_name="Calibration"), tfma.MetricConfig(class_name="MeanLabel"),
    tfma.MetricConfig(class_name="MeanPrediction"), tfma.MetricConfig(class_name="CalibrationPlot")]


@pytest.fixture(scope="module")
def rows() -> tuple[SplitRows, dict[str, np.ndarray]]:
    """Breast-cancer rows with dirty slice columns: strings with missing and empty values, an
    integer, a float32, a column of two values on some rows; scores on the buckets' edges."""
    data = load_breast_cancer()
    rng = np.random.default_rng(3)
    count = len(data.target)
    radius = data.data[:, 0]
    size = np.digitize(radius, np.quantile(radius, [1 / 3, 2 / 3]))
    company = rng.choice(np.array([b"Flash Cab", b"", b"Sun Taxi", None], object), count,
                         p=[0.45, 0.05, 0.4, 0.1])
    tags = [[b"a"] if i % 3 else [b"a", b"b"] for i in range(count)]
    slices = {
        "size": pa.array([[b"sml"[s:s + 1]] for s in size], pa.list_(pa.binary())),
        "company": pa.array([None if c is None else [c] for c in company],
                            pa.list_(pa.binary())),
        "hour": pa.array([[int(h)] for h in rng.integers(0, 4, count)], pa.list_(pa.int64())),
        "fare": pa.array([[f] for f in rng.choice([2.5, 7.25, 10.0], count)],
                         pa.list_(pa.float32())),
        "tags": pa.array(tags, pa.list_(pa.binary()))}
    z = data.data[:, 27] - data.data[:, 27].mean()
    scores = (1 / (1 + np.exp(40 * z))).astype(np.float32)
    scores[:12] = [0.0, 1.0, 0.5, 1e-4, 0.9999, 0.001, 0.0011, 0.25, 0.75, 0.5, 0.0, 1.0]
    predictions = {"prior": np.full(count, 0.37, np.float32), "logistic": scores}
    return SplitRows({}, data.target.astype(np.int64), slices), predictions


def _figures(records) -> dict[str, dict[str, dict]]:
    return {json.dumps(slice_dict(r.slice_key), sort_keys=True, default=str):
            {name: per_model(r, name) for name in MODELS} for r in records}


def _tfma(config, split: SplitRows, predictions, tmp_path) -> list:
    batch = record_batch("label", split, predictions)
    return Executor()._run_tfma({"sliced": config}, batch, str(tmp_path))["sliced"]


def test_every_slices_figures_are_tfmas_own(rows, tmp_path):
    split, predictions = rows
    config = _config(SLICED)
    found = vectorised.evaluate(config, split.label, predictions, split.slices)
    assert found is not None
    expected = _figures(_tfma(config, split, predictions, tmp_path))
    figures = _figures(found)
    assert figures == expected
    # Slices of every kind are there: missing and empty strings, integers, floats, two values.
    assert len(figures) == 1 + 3 + 3 + 4 + 3 * 3 + 3 + 2
    assert figures["{}"]["logistic"]["example_count"] == len(split.label)
    assert 0.9 < figures["{}"]["logistic"]["auc"] < 1 and figures["{}"]["prior"]["auc"] == 0.5


def _assert_close(found: dict, expected: dict) -> None:
    """The same slices, models and metrics; sums of scores to TFMA's merge order (1e-12)."""
    assert found.keys() == expected.keys()
    for key, models in expected.items():
        for name, metrics in models.items():
            assert found[key][name].keys() == metrics.keys(), (key, name)
            for metric, value in metrics.items():  # None: not finite (one class)
                close = None if value is None else pytest.approx(value, rel=1e-12)
                assert found[key][name][metric] == close, (key, name, metric)


def test_every_binary_metric_on_every_slice_is_tfmas(rows, tmp_path):
    """Precision, recall, F1 and accuracy at the cutoff (a score of exactly 0.5 is negative),
    calibration, mean label and prediction; the plot is TFMA's output too, not a metric."""
    split, predictions = rows
    config = _config(OVERALL)
    found = _figures(vectorised.evaluate(config, split.label, predictions, split.slices))
    expected = _figures(_tfma(config, split, predictions, tmp_path))
    _assert_close(found, expected)
    overall = found["{}"]["logistic"]
    truth, above = split.label == 1, predictions["logistic"] > 0.5
    assert overall["precision"] == (truth & above).sum() / above.sum()
    assert overall["binary_accuracy"] == pytest.approx((truth == above).mean())
    assert found["{}"]["prior"]["mean_label"] == truth.mean()


def test_a_slice_of_one_class_and_a_float_label_are_tfmas_too(rows, tmp_path):
    split, predictions = rows
    label = split.label.astype(np.float32)
    label[np.asarray(split.slices["hour"].flatten()) == 0] = 1.0  # slice hour=0: one class
    float_split = SplitRows({}, label, split.slices)
    config = _config(OVERALL, [["hour"]])
    found = vectorised.evaluate(config, label, predictions, split.slices)
    expected = _figures(_tfma(config, float_split, predictions, tmp_path))
    _assert_close(_figures(found), expected)
    # TFMA's AUC of a slice holding one class is 0.0 (its curve has no negatives): the same.
    assert expected['{"hour": 0}']["logistic"]["auc"] == 0.0


def test_regression_errors_are_tfmas_to_the_last_digits(rows, tmp_path):
    """Diabetes targets (float32, and as integers), a constant and a noisy score."""
    from sklearn.datasets import load_diabetes

    split, _ = rows
    target = np.resize(load_diabetes().target, len(split.label))  # 442 rows, repeated
    noisy = target + np.random.default_rng(4).normal(0, 40, len(target))
    scores = {"prior": np.full(len(target), 152.1, np.float32),
              "logistic": noisy.astype(np.float32)}
    config = _config([tfma.MetricConfig(class_name=c) for c in
                      ("ExampleCount", "MeanSquaredError", "MeanAbsoluteError")])
    for label in (target.astype(np.float32), target.astype(np.int64)):
        found = _figures(vectorised.evaluate(config, label, scores, split.slices))
        expected = _figures(_tfma(config, SplitRows({}, label, split.slices), scores, tmp_path))
        assert len(found) == 25
        _assert_close(found, expected)
        overall = found["{}"]["logistic"]["mean_squared_error"]
        assert overall == pytest.approx(np.mean((label - scores["logistic"]) ** 2), rel=1e-6)


@pytest.mark.parametrize("case", ["other combiner", "weighted", "label 2", "nan score",
                                  "scores per class", "cross slices", "keras metric",
                                  "nan label", "confidence intervals", "min slice size"])
def test_tfmas_pipeline_is_left_to_run_where_the_closed_forms_do_not_apply(rows, case):
    split, predictions = rows
    label, scores = split.label, dict(predictions)
    metrics = list(SLICED)
    if case == "other combiner":  # a Keras metric TFMA wraps
        metrics.append(tfma.MetricConfig(class_name="BinaryCrossentropy"))
    config = _config(metrics)
    if case == "weighted":
        config.metrics_specs[0].example_weights.weighted = True
        config.metrics_specs[0].example_weights.unweighted = False
    if case == "label 2":
        label = label.copy()
        label[0] = 2
    if case == "nan score":
        scores["logistic"] = scores["logistic"].copy()
        scores["logistic"][5] = np.nan
    if case == "scores per class":
        scores["logistic"] = np.stack([1 - scores["logistic"], scores["logistic"]], axis=1)
    if case == "keras metric":  # RMSE is TFMA's wrapper of a Keras metric
        config = _config([tfma.MetricConfig(class_name="RootMeanSquaredError")])
    if case == "nan label":
        config = _config([tfma.MetricConfig(class_name="MeanSquaredError")])
        label = label.astype(np.float32)
        label[3] = np.nan
    if case == "confidence intervals":
        config.options.compute_confidence_intervals.value = True
    if case == "min slice size":
        config.options.min_slice_size.value = 10
    if case == "cross slices":
        config.cross_slicing_specs.add(baseline_spec=tfma.SlicingSpec(),
                                       slicing_specs=[tfma.SlicingSpec(feature_keys=["hour"])])
    assert vectorised.evaluate(config, label, scores, split.slices) is None


def test_bucket_indices_are_tfmas_formula():
    scores = np.array([-0.5, 0.0, 1e-5, 0.49999, 0.5, 0.99995, 1.0, 1.5], np.float32)
    from tensorflow_model_analysis.metrics.calibration_histogram import (
        _CalibrationHistogramCombiner,
    )

    combiner = _CalibrationHistogramCombiner(None, None, None, None, False, 10000, 0.0, 1.0,
                                             True, True)
    expected = [combiner._bucket_index(float(s)) for s in scores]
    assert closed_forms.bucket_indices(scores.astype(np.float64), 0.0, 1.0, 10000).tolist() == \
        expected
