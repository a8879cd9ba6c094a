"""The memoised label/prediction extraction (pipeline/orchestration/tfma_patches.py): every
figure of a TFMA evaluation with the Evaluator's metrics is what stock TFMA gives, and the
extraction runs once per example and argument set, not once per slice."""

from __future__ import annotations

import pickle

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow_model_analysis as tfma
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_util

from components.naive_baselines.rows import SplitRows
from components.naive_baselines.scores_executor import _passes, record_batch
from pipeline.config import load_config
from pipeline.dag.evaluation import model_eval_config
from pipeline.orchestration import tfma_patches
from tests.fixtures import TAXI_CONFIG

ORIGINAL = getattr(metric_util.to_label_prediction_example_weight, "original",
                   metric_util.to_label_prediction_example_weight)
SLICES = [["size"], ["texture"], ["size", "texture"]]


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, np.ndarray]:
    """Breast-cancer rows: slice columns binned from two features, a score from a third."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame
    slices = pd.DataFrame({
        "size": pd.qcut(frame["mean radius"], 3, labels=["s", "m", "l"]).astype(str),
        "texture": pd.qcut(frame["mean texture"], 2, labels=["smooth", "rough"]).astype(str)})
    z = (frame["worst concave points"] - frame["worst concave points"].mean())
    scores = (1 / (1 + np.exp(40 * z))).to_numpy(np.float32)  # label 1 is benign
    return slices.assign(label=data.target), scores


@pytest.fixture(autouse=True)
def _per_example_metrics(monkeypatch):
    """TFMA's per-example metrics step and extractors, which these tests count calls in, even
    where another test installed the batched step (pipeline/orchestration/
    tfma_sliced_metrics.py)."""
    from tensorflow_model_analysis.api import model_eval_lib
    from tensorflow_model_analysis.evaluators import (
        metrics_plots_and_validations_evaluator as ev,
    )

    for module, name in ((ev, "_ComputeMetricsAndPlots"), (model_eval_lib, "default_extractors")):
        current = getattr(module, name)
        monkeypatch.setattr(module, name, getattr(current, "original", current))


def _eval_config() -> tfma.EvalConfig:
    """The Evaluator's metrics and plots (taxi config), on scores given as a column."""
    config = model_eval_config(load_config(TAXI_CONFIG))
    del config.model_specs[:]
    config.model_specs.add(label_key="label", prediction_key="model")
    del config.slicing_specs[:]
    config.slicing_specs.add()
    for columns in SLICES:
        config.slicing_specs.add(feature_keys=columns)
    for metric in config.metrics_specs[0].metrics:
        del metric.per_slice_thresholds[:]
    return config


def _evaluate(cancer, uri: str) -> tuple[dict, dict]:
    """Every metric and plot per slice: {slice: {metric name: value}}, {slice: plot proto}."""
    frame, scores = cancer
    rows = SplitRows({}, frame["label"].to_numpy(np.int64),
                     slices={c: _strings(frame[c]) for c in ("size", "texture")})
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create([record_batch("label", rows, {"model": scores})])
             | tfma.ExtractEvaluateAndWriteResults(eval_config=_eval_config(), output_path=uri))
    metrics = {_name(r.slice_key): {e.key.name: e.value.SerializeToString(deterministic=True)
                                    for e in r.metric_keys_and_values}
               for r in tfma.load_metrics(uri)}
    plots = {_name(r.slice_key): [e.value.SerializeToString(deterministic=True)
                                  for e in r.plot_keys_and_values]
             for r in tfma.load_plots(uri)}
    return metrics, plots


def _strings(column: pd.Series):
    import pyarrow as pa

    return pa.array([[v.encode()] for v in column], pa.list_(pa.binary()))


def _name(slice_key) -> str:
    return " x ".join(f"{k.column}={k.bytes_value.decode()}"
                      for k in slice_key.single_slice_keys) or "overall"


def _stock(monkeypatch, function=ORIGINAL) -> None:
    """TFMA as shipped: `function` (default: its own) wherever the patch puts the cache."""
    monkeypatch.setattr(metric_util, "to_label_prediction_example_weight", function)
    for caller in (binary_confusion_matrices.binary_confusion_matrices,
                   binary_confusion_matrices._binary_confusion_matrix_computation):
        monkeypatch.setattr(caller, "__defaults__", tuple(
            function if d in (ORIGINAL, tfma_patches.to_label_prediction_example_weight) else d
            for d in caller.__defaults__))


CALLS: list = []  # the inputs of each call that reached TFMA's own function


def counted(*args, **kwargs):
    """TFMA's function, counted; module-level, so Beam pickles the combiners holding it by
    reference (a closure would count into a copy)."""
    CALLS.append(args[0])
    return ORIGINAL(*args, **kwargs)


def _counting(monkeypatch) -> list:
    """The calls the cache passes on to TFMA's function, from now on."""
    CALLS.clear()
    monkeypatch.setattr(tfma_patches.to_label_prediction_example_weight, "original", counted,
                        raising=False)
    return CALLS


def test_every_figure_is_stock_tfmas_and_extraction_runs_once_per_example(
        cancer, tmp_path, monkeypatch):
    with monkeypatch.context() as stock:
        _stock(stock, counted)
        CALLS.clear()
        expected = _evaluate(cancer, str(tmp_path / "stock"))
        stock_calls = len(CALLS)
    assert tfma_patches.install() is True
    calls = _counting(monkeypatch)
    metrics, plots = _evaluate(cancer, str(tmp_path / "patched"))
    assert (metrics, plots) == expected
    rows = len(cancer[1])
    # 569 rows in 4 slices each (overall, size, texture, the cross): stock TFMA extracts once
    # per row, slice and combiner (histogram, confusion matrix at 0.5, calibration). With the
    # cache, once per row and argument set: the histogram and the confusion matrix pass the
    # same arguments, so two.
    assert stock_calls == 3 * 4 * rows
    assert len(calls) == 2 * rows
    assert len(metrics) == 1 + 3 + 2 + 6


def test_naive_baselines_two_models_two_passes_same_figures_fewer_calls(
        cancer, tmp_path, monkeypatch):
    """NaiveBaselines' evaluation (components/naive_baselines/scores_executor.py): two models, every
    metric overall and the gated one on every slice, in one Beam pipeline."""
    frame, scores = cancer
    rows = SplitRows({}, frame["label"].to_numpy(np.int64),
                     slices={c: _strings(frame[c]) for c in ("size", "texture")})
    config = _eval_config()
    del config.model_specs[:]
    for name in ("prior", "logistic"):
        config.model_specs.add(name=name, label_key="label", prediction_key=name)
    predictions = {"prior": np.full(len(scores), 0.37, np.float32), "logistic": scores}

    def evaluate(root: str) -> dict:
        passes = _passes(config, {"prior", "logistic"}, ("AUC", "ExampleCount"))
        with beam.Pipeline() as pipeline:
            batch = pipeline | beam.Create([record_batch("label", rows, predictions)])
            for part, eval_config in passes.items():
                _ = batch | part >> tfma.ExtractEvaluateAndWriteResults(
                    eval_config=eval_config, output_path=f"{root}/{part}")
        return {part: {_name(r.slice_key): sorted(e.SerializeToString(deterministic=True)
                                                  for e in r.metric_keys_and_values)
                       for r in tfma.load_metrics(f"{root}/{part}")} for part in passes}

    with monkeypatch.context() as stock:
        _stock(stock, counted)
        CALLS.clear()
        expected = evaluate(str(tmp_path / "stock"))
        stock_calls = len(CALLS)
    tfma_patches.install()
    calls = _counting(monkeypatch)
    assert evaluate(str(tmp_path / "patched")) == expected
    rows_count = len(scores)
    # Stock: per model, the histogram on 4 slices, and 3 combiners overall.
    assert stock_calls == 2 * (4 + 3) * rows_count
    # Cached: per model, one for the sliced pass, two overall (the histogram and the confusion
    # matrix share their arguments; calibration has its own).
    assert len(calls) == 2 * (1 + 2) * rows_count


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_multiclass_and_regression_figures_are_stock_tfmas(kind, tmp_path, monkeypatch):
    """The task's metrics (pipeline/config/catalogue.py) and plot, on iris or diabetes rows
    scored by a linear fit, on two slicings."""
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from pipeline.config.catalogue import METRICS

    data = (load_iris if kind == "multiclass" else load_diabetes)()
    model = (LogisticRegression(max_iter=500) if kind == "multiclass" else LinearRegression())
    model.fit(data.data, data.target)
    scores = (model.predict_proba(data.data) if kind == "multiclass"
              else model.predict(data.data)).astype(np.float32)
    band = pd.qcut(data.data[:, 0], 3, labels=["low", "mid", "high"]).astype(str)
    rows = SplitRows({}, data.target.astype(np.int64 if kind == "multiclass" else np.float32),
                     slices={"band": _strings(pd.Series(band))})
    classes = [cls for cls, _, _ in METRICS[kind].values()]
    plots = ["MultiClassConfusionMatrixPlot"] if kind == "multiclass" else []
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="model")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["band"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=c)
                                                 for c in classes + plots])])

    def evaluate(uri: str) -> tuple:
        with beam.Pipeline() as pipeline:
            _ = (pipeline | beam.Create([record_batch("label", rows, {"model": scores})])
                 | tfma.ExtractEvaluateAndWriteResults(eval_config=config, output_path=uri))
        return ({_name(r.slice_key): sorted(e.SerializeToString(deterministic=True)
                                            for e in r.metric_keys_and_values)
                 for r in tfma.load_metrics(uri)},
                {_name(r.slice_key): sorted(e.SerializeToString(deterministic=True)
                                            for e in r.plot_keys_and_values)
                 for r in tfma.load_plots(uri)})

    with monkeypatch.context() as stock:
        _stock(stock)
        expected = evaluate(str(tmp_path / "stock"))
    tfma_patches.install()
    calls = _counting(monkeypatch)
    metrics, plots = evaluate(str(tmp_path / "patched"))
    assert (metrics, plots) == expected
    assert len(calls) >= len(data.target)  # the metrics went through the cache
    assert len(metrics) == 4 and all(len(m) >= len(classes) for m in metrics.values())


def test_the_figures_are_the_right_ones(cancer, tmp_path):
    tfma_patches.install()
    frame, scores = cancer
    uri = str(tmp_path / "eval")
    _evaluate(cancer, uri)
    overall = {e.key.name: e.value for r in tfma.load_metrics(uri)
               if not r.slice_key.single_slice_keys for e in r.metric_keys_and_values}
    assert overall["example_count"].double_value.value == 569
    assert overall["auc"].double_value.value == pytest.approx(
        roc_auc_score(frame["label"], scores), abs=2e-3)
    predicted = scores > 0.5
    assert overall["binary_accuracy"].double_value.value == pytest.approx(
        np.mean(predicted == frame["label"]), abs=1e-6)
    assert overall["precision"].double_value.value == pytest.approx(
        frame["label"][predicted].mean(), abs=1e-6)
    assert overall["mean_label"].double_value.value == pytest.approx(frame["label"].mean())


def test_a_new_inputs_object_or_other_arguments_are_not_answered_from_the_cache(monkeypatch):
    tfma_patches.install()
    calls = _counting(monkeypatch)
    first = tfma.metrics.StandardMetricInputs(labels=np.array([1.0]),
                                              predictions=np.array([0.25]))
    second = tfma.metrics.StandardMetricInputs(labels=np.array([0.0]),
                                               predictions=np.array([0.25]))
    patched = tfma_patches.to_label_prediction_example_weight
    assert [float(t[0]) for t in patched(first, fractional_labels=True)] == [1.0]
    assert [float(t[0]) for t in patched(first, fractional_labels=True)] == [1.0]
    assert [float(t[0]) for t in patched(second, fractional_labels=True)] == [0.0]
    assert [(float(label), float(w)) for label, _, w in patched(first)] == [(1.0, 1.0)]
    assert [id(c) for c in calls] == [id(first), id(second), id(first)]
    # Model names equal but not the same object (each combiner unpickles its own): a hit.
    one, other = "".join(["pri", "or"]), "".join(["pr", "ior"])
    assert one is not other
    inputs = tfma.metrics.StandardMetricInputs(labels={"prior": np.array([1.0])},
                                               predictions={"prior": np.array([0.25])})
    assert [float(t[1]) for t in patched(inputs, model_name=one)] == [0.25]
    assert [float(t[1]) for t in patched(inputs, model_name=other)] == [0.25]
    assert len(calls) == 4


def test_combiners_pickle_it_by_reference():
    tfma_patches.install()
    assert pickle.loads(pickle.dumps(metric_util.to_label_prediction_example_weight)) \
        is tfma_patches.to_label_prediction_example_weight


def test_install_only_on_the_measured_tfma_version_and_only_once(monkeypatch):
    _stock(monkeypatch)
    monkeypatch.setattr(tfma, "__version__", "0.48.0")
    assert tfma_patches.install() is False
    assert metric_util.to_label_prediction_example_weight is ORIGINAL
    monkeypatch.setattr(tfma, "__version__", tfma_patches.TFMA_VERSION)
    assert tfma_patches.install() is True
    assert tfma_patches.install() is True
    assert metric_util.to_label_prediction_example_weight.original is ORIGINAL
    assert tfma_patches.to_label_prediction_example_weight in \
        binary_confusion_matrices.binary_confusion_matrices.__defaults__


def test_the_locked_tfma_is_the_one_the_patch_was_measured_on():
    # After a TFMA upgrade install() does nothing: re-measure, then move TFMA_VERSION.
    assert tfma.__version__ == tfma_patches.TFMA_VERSION
