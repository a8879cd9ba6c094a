"""TFMA's metrics per slice combined a batch at a time (pipeline/orchestration/
tfma_sliced_metrics.py): every metric, plot, candidate-against-baseline difference and
validation of an evaluation is what stock TFMA gives on the same rows, whichever way each batch
went; and the batched path is the one taken where it applies."""

from __future__ import annotations

import json

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import tensorflow_model_analysis as tfma
from google.protobuf import json_format, wrappers_pb2
from sklearn.datasets import load_breast_cancer, load_diabetes
from tensorflow_model_analysis.api import model_eval_lib
from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev

from components.naive_baselines.rows import SplitRows
from components.naive_baselines.scores_executor import record_batch
from pipeline.config import load_config
from pipeline.dag.evaluation import change_threshold, model_eval_config
from pipeline.orchestration import tfma_sliced_metrics
from tests.fixtures import TAXI_CONFIG
from tests.fixtures.compare import assert_same

STOCK = getattr(ev._ComputeMetricsAndPlots, "original", ev._ComputeMetricsAndPlots)
STOCK_EXTRACTORS = getattr(model_eval_lib.default_extractors, "original",
                           model_eval_lib.default_extractors)
SLICES = [["size"], ["texture"], ["size", "texture"], ["grade"], ["size", "grade"]]
PER_EXAMPLE: list[int] = []  # batches that went TFMA's per-example way
SLICED_BY_TFMA: list[int] = []  # batched extracts unbatched and sliced by TFMA's code
ORIGINAL_PER_EXAMPLE = tfma_sliced_metrics.AccumulateBatch._per_example
ORIGINAL_SLICED = tfma_sliced_metrics.AccumulateBatch._sliced


def _counted_per_example(self, batch, groups):
    PER_EXAMPLE.append(len(batch))
    return ORIGINAL_PER_EXAMPLE(self, batch, groups)


def _counted_sliced(self, batched):
    extracts = ORIGINAL_SLICED(self, batched)
    SLICED_BY_TFMA.append(len(extracts))
    return extracts


@pytest.fixture()
def patched(monkeypatch):
    """The batched step installed (undone after the test), batches of 100 rows, and the
    batches that go TFMA's per-example way counted."""
    stock(monkeypatch)
    monkeypatch.setattr(tfma_sliced_metrics, "_BATCH", 100)
    monkeypatch.setattr(tfma_sliced_metrics.AccumulateBatch, "_per_example",
                        _counted_per_example)
    monkeypatch.setattr(tfma_sliced_metrics.AccumulateBatch, "_sliced", _counted_sliced)
    PER_EXAMPLE.clear()
    SLICED_BY_TFMA.clear()
    assert tfma_sliced_metrics.install() is True
    assert ev._ComputeMetricsAndPlots is tfma_sliced_metrics.compute_metrics_and_plots
    assert model_eval_lib.default_extractors is tfma_sliced_metrics.default_extractors
    yield
    stock(monkeypatch)


def stock(monkeypatch) -> None:
    """TFMA as shipped, for the rest of the test."""
    monkeypatch.setattr(ev, "_ComputeMetricsAndPlots", STOCK)
    monkeypatch.setattr(model_eval_lib, "default_extractors", STOCK_EXTRACTORS)


@pytest.fixture(scope="module")
def cancer() -> tuple[SplitRows, dict[str, np.ndarray]]:
    """Breast-cancer rows: two slice columns binned from features; a candidate's and a
    baseline's scores (scores of exactly 0.5 on some rows)."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame
    slices = {"size": pd.qcut(frame["mean radius"], 3, labels=["s", "m", "l"]).astype(str),
              "texture": pd.qcut(frame["mean texture"], 2, labels=["smooth", "rough"]
                                 ).astype(str)}
    z = (frame["worst concave points"] - frame["worst concave points"].mean())
    candidate = (1 / (1 + np.exp(40 * z))).to_numpy(np.float32)
    candidate[::50] = 0.5
    baseline = (1 / (1 + np.exp(10 * z))).to_numpy(np.float32)
    columns = {k: _strings(v) for k, v in slices.items()}
    # A dirty column: missing on some rows, empty on others, two values on others.
    columns["grade"] = pa.array(
        [None if i % 7 == 0 else [] if i % 11 == 0 else [b"a", b"b"] if i % 5 == 0
         else [b"abc"[i % 3:i % 3 + 1]] for i in range(len(frame))], pa.list_(pa.binary()))
    rows = SplitRows({}, data.target.to_numpy(np.int64), slices=columns)
    return rows, {"model": candidate, "base": baseline}


def _strings(column: pd.Series):
    return pa.array([[v.encode()] for v in column], pa.list_(pa.binary()))


def _binary_config(baseline: bool) -> tfma.EvalConfig:
    """The Evaluator's metrics and plots (taxi config) on scores given as columns; with a
    baseline model, the change thresholds the Evaluator sets against it."""
    config = model_eval_config(load_config(TAXI_CONFIG))
    del config.model_specs[:]
    config.model_specs.add(name="candidate", label_key="label", prediction_key="model")
    if baseline:
        config.model_specs.add(name="baseline", label_key="label", prediction_key="base",
                               is_baseline=True)
    del config.slicing_specs[:]
    config.slicing_specs.add()
    for columns in SLICES:
        config.slicing_specs.add(feature_keys=columns)
    app = load_config(TAXI_CONFIG)
    for metric in config.metrics_specs[0].metrics:
        if baseline and metric.class_name in ("AUC", "BinaryAccuracy"):
            for threshold in metric.per_slice_thresholds:
                threshold.threshold.change_threshold.CopyFrom(change_threshold(
                    app, "auc" if metric.class_name == "AUC" else "binary_accuracy", 0.001))
        elif not baseline:
            del metric.per_slice_thresholds[:]
    return config


def _evaluate(rows: SplitRows, scores: dict[str, np.ndarray], config: tfma.EvalConfig,
              uri: str, unbatched: bool = False) -> dict:
    """Every metric, plot and the validation: {slice: {key: value as a dict}}. The rows come
    in RecordBatches of 100; `unbatched`: TFMA's own extractors given (unbatched extracts)."""
    whole = record_batch("label", rows, scores)
    extractors = tfma.default_extractors(eval_config=config) if unbatched else None
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create([whole.slice(i, 100) for i in range(0, whole.num_rows, 100)])
             | tfma.ExtractEvaluateAndWriteResults(eval_config=config, output_path=uri,
                                                   extractors=extractors))
    found = {}
    for loaded, field in ((tfma.load_metrics(uri), "metric_keys_and_values"),
                          (tfma.load_plots(uri), "plot_keys_and_values")):
        for record in loaded:
            entries = found.setdefault(_name(record.slice_key), {})
            for entry in getattr(record, field):
                entries[json_format.MessageToJson(entry.key, sort_keys=True)] = \
                    json_format.MessageToDict(entry.value)
    validation = tfma.load_validation_result(uri)
    found["validation"] = {"ok": validation.validation_ok, "failures": sorted(
        json_format.MessageToJson(f, sort_keys=True)
        for f in validation.metric_validations_per_slice)}
    return found


def _name(slice_key) -> str:
    return " x ".join(f"{k.column}={k.bytes_value.decode() or k.float_value}"
                      for k in slice_key.single_slice_keys) or "overall"


def _same(found, expected) -> None:
    """Equal, numbers to 1e-12 relative (TFMA adds sums row by row, the batches per slice)."""
    assert_same(found, expected, rel=1e-12)


def _stock_and_batched(rows, scores, config, tmp_path, monkeypatch, unbatched=False
                       ) -> tuple[dict, dict]:
    from tensorflow_model_analysis.utils import config_util

    if len(config.model_specs) > 1:  # a baseline given as a column, not as a model
        monkeypatch.setattr(model_eval_lib, "_update_eval_config_with_defaults",
                            lambda eval_config, _models: config_util.
                            update_eval_config_with_defaults(eval_config, has_baseline=True))
    stock(monkeypatch)
    expected = _evaluate(rows, scores, config, str(tmp_path / "stock"))
    assert tfma_sliced_metrics.install() is True
    return _evaluate(rows, scores, config, str(tmp_path / "batched"), unbatched), expected


@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("baseline", [False, True], ids=["candidate", "with-baseline"])
def test_the_evaluators_binary_figures_plots_and_validation_are_stock_tfmas(
        cancer, baseline, unbatched, tmp_path, monkeypatch, patched):
    rows, scores = cancer
    found, expected = _stock_and_batched(rows, scores, _binary_config(baseline), tmp_path,
                                         monkeypatch, unbatched)
    _same(found, expected)
    assert PER_EXAMPLE == [] and SLICED_BY_TFMA == []  # every batch of 100 in closed form
    # slices: overall, 3 sizes, 2 textures, 6 of both, grades a, b, c, and size x grade
    assert len(found) == 1 + 3 + 2 + 6 + 3 + 9 + 1
    overall = json.dumps(found["overall"])
    assert "calibrationHistogramBuckets" in overall and "confusionMatrixAtThresholds" in overall
    if baseline:  # the differences against the baseline, and the change thresholds judged
        assert any('"isDiff": true' in key for key in found["overall"])
        assert found["validation"]["ok"] is False and found["validation"]["failures"]


@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_a_batch_the_closed_forms_do_not_fit_goes_tfmas_way_into_the_same_figures(
        cancer, unbatched, tmp_path, monkeypatch, patched):
    rows, scores = cancer
    label = rows.label.astype(np.float32)
    label[250] = 0.5  # one row of the third batch: a fractional label, which TFMA splits
    dirty = SplitRows({}, label, slices=rows.slices)
    found, expected = _stock_and_batched(dirty, scores, _binary_config(True), tmp_path,
                                         monkeypatch, unbatched)
    _same(found, expected)
    assert PER_EXAMPLE == [100]
    assert SLICED_BY_TFMA == ([] if unbatched else [100])


def test_regression_errors_merge_across_batches_as_stock_tfma(tmp_path, monkeypatch, patched):
    """Mean squared and absolute errors over 5 batches: each accumulator counted once (TFMA's
    own merge of a list would count the first twice)."""
    data = load_diabetes()
    score = (data.target + np.random.default_rng(0).normal(0, 40, len(data.target))
             ).astype(np.float32)
    band = pd.qcut(data.data[:, 0], 3, labels=["low", "mid", "high"]).astype(str)
    rows = SplitRows({}, data.target.astype(np.float32),
                     slices={"band": _strings(pd.Series(band))})
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="model")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["band"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name=c)
            for c in ("ExampleCount", "MeanSquaredError", "MeanAbsoluteError")])],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)))
    found, expected = _stock_and_batched(rows, {"model": score}, config, tmp_path, monkeypatch)
    _same(found, expected)
    assert PER_EXAMPLE == [] and SLICED_BY_TFMA == []
    mse = [v for k, v in found["overall"].items() if "mean_squared_error" in k][0]
    assert mse["doubleValue"] == pytest.approx(
        np.mean((data.target - score.astype(np.float64)) ** 2), rel=1e-6)


def test_evaluations_the_closed_forms_cannot_answer_are_tfmas_own():
    multiclass = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label")],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy")])])
    specs = list(multiclass.metrics_specs)
    assert tfma_sliced_metrics.closed_form_computations(multiclass, specs, None, None) is None
    from tensorflow_model_analysis.utils import config_util

    binary = config_util.update_eval_config_with_defaults(_binary_config(True), has_baseline=True)
    specs = list(binary.metrics_specs)
    assert tfma_sliced_metrics.closed_form_computations(binary, specs, None, None) is not None
    binary.options.min_slice_size.value = 10
    assert tfma_sliced_metrics.closed_form_computations(binary, specs, None, None) is None
    binary.options.min_slice_size.value = 0
    binary.options.compute_confidence_intervals.value = True
    assert tfma_sliced_metrics.closed_form_computations(binary, specs, None, None) is None


def test_install_only_on_the_tfma_version_it_was_written_for(monkeypatch):
    stock(monkeypatch)
    monkeypatch.setattr(tfma, "__version__", "0.48.0")
    assert tfma_sliced_metrics.install() is False
    assert ev._ComputeMetricsAndPlots is STOCK
