"""The TFMA EvalConfigs: the model's (judged by the Evaluator), and the pruned variant's.

**The model.** It is evaluated on raw eval examples through its serving signature; the label
comes from the model's `transform_features` signature (`label_xf`), so a label derived inside
the pipeline (the taxi "big tipper") is evaluated exactly as it was trained. Thresholds apply to
the overall slice only (as `per_slice_thresholds` on the overall SlicingSpec: a plain
`threshold` would apply to every slice, down to slices of one example): absolute bounds, and a
change bound against the latest blessed baseline.

**The pruned variant** (candidate: pruned, baseline: the dense Trainer model): the same model
spec and slices; its metrics are the ones the optimization stage judges, each with a change
threshold against the baseline on every slicing spec, the example count and, for a binary label,
the mean label (it tells one-class slices apart). TFMA applies those change thresholds to every
slice, down to slices of one example, so its own validation is stricter than the stage's rule
(slices under `optimization.min_slice_examples` are reported, not judged): the VariantEvaluator
reads the metrics of both models and judges; TFMA's validation result is kept for reference.
"""


from __future__ import annotations

import json

import tensorflow_model_analysis as tfma
from google.protobuf import json_format, wrappers_pb2

from components.naive_baselines import BaselineSettings, ScoreSettings
from components.naive_baselines.fit import BASELINE_NAMES
from components.shared.model_contract import (
    LABEL_KEY,
    OUTPUT_KEY,
    SERVING_SIGNATURE,
    TRANSFORM_SIGNATURE,
)
from pipeline.config import Config
from pipeline.config.catalogue import DEFAULT_METRICS
from pipeline.config.sections import ThresholdSection
from pipeline.inputs.labels import LabelValues

_PLOTS = {
    "binary": ["CalibrationPlot", "ConfusionMatrixPlot"],
    "multiclass": ["MultiClassConfusionMatrixPlot"],
    "regression": [],
}
# Always computed, whatever the config lists: the positive rate per slice tells a reader (and the
# summary) which slices hold a single class, where AUC is undefined.
_ALWAYS = {"binary": ["MeanLabel"], "multiclass": [], "regression": []}
_AT_THRESHOLD = {"Precision", "Recall", "F1Score"}
# TFMA's default for the curves under AUC and AUC-PR is 10,000 thresholds, and it rebuilds each
# curve in Python for every slice. 1,000 give the same AUC overall and differ on small slices by
# far less than AUC's sampling noise there; the saving and the differences are measured in
# docs/performance.md ("Evaluator").
_CURVE_THRESHOLDS = {"AUC", "AUCPrecisionRecall"}
AUC_THRESHOLDS = 1000
_CHANGE_EPSILON = 1e-10
_BEAT = 1e-6  # "beats the naive predictor": better by more than float noise


def metric_names(config: Config, gated: dict[str, ThresholdSection] | None = None
                 ) -> list[str]:
    """The configured metrics (or the task's defaults), every metric that has a threshold, and
    those the ranking of slices needs (`Config.metrics_added`)."""
    names = list(config.evaluation.metrics or DEFAULT_METRICS[config.label.kind])
    names += [m for m in (gated if gated is not None else config.evaluation.thresholds)
              if m not in names]
    return [*(m for m in config.metrics_added if m not in names), *names]


def gate(config: Config, label: LabelValues | None) -> dict[str, ThresholdSection]:
    """The thresholds the model is blessed by: the configured ones; without any, it must beat
    the naive predictor of its label (inputs/labels.py), else TFMA would bless nothing."""
    if config.evaluation.thresholds:
        return dict(config.evaluation.thresholds)
    naive = label.naive() if label is not None else None
    if naive is None:
        return {}
    metric, value, _ = naive
    _, _, higher_is_better = config.metric_spec(metric)
    margin = _BEAT * max(abs(value), 1.0)
    return {metric: ThresholdSection(lower_bound=value + margin) if higher_is_better
            else ThresholdSection(upper_bound=value - margin)}


def change_threshold(config: Config, name: str, max_change: float) -> tfma.GenericChangeThreshold:
    """At most `max_change` worse than the baseline, in the metric's own direction."""
    _, _, higher_is_better = config.metric_spec(name)
    change = tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.HIGHER_IS_BETTER if higher_is_better
        else tfma.MetricDirection.LOWER_IS_BETTER)
    # A tiny epsilon keeps "no change at all" from failing on float noise.
    change.absolute.value = (-max_change - _CHANGE_EPSILON if higher_is_better
                             else max_change + _CHANGE_EPSILON)
    return change


def _threshold(config: Config, name: str, bounds: ThresholdSection | None
               ) -> tfma.MetricThreshold | None:
    if bounds is None:
        return None
    threshold = tfma.MetricThreshold()
    if bounds.lower_bound is not None or bounds.upper_bound is not None:
        value = tfma.GenericValueThreshold()
        if bounds.lower_bound is not None:
            value.lower_bound.value = bounds.lower_bound
        if bounds.upper_bound is not None:
            value.upper_bound.value = bounds.upper_bound
        threshold.value_threshold.CopyFrom(value)
    if bounds.max_change is not None:
        threshold.change_threshold.CopyFrom(change_threshold(config, name, bounds.max_change))
    return threshold


def metric_config(config: Config, name: str, threshold: tfma.MetricThreshold | None = None,
                  threshold_slices: list[tfma.SlicingSpec] | None = None) -> tfma.MetricConfig:
    """The TFMA metric `name` (at the decision threshold where it has one), with `threshold`
    bound to `threshold_slices` (default: the overall slice only)."""
    class_name, _, _ = config.metric_spec(name)
    metric = tfma.MetricConfig(class_name=class_name)
    cutoff = config.evaluation.decision_threshold
    if class_name in _AT_THRESHOLD:
        metric.config = json.dumps({"thresholds": [cutoff]})
    elif class_name == "BinaryAccuracy":
        metric.config = json.dumps({"threshold": cutoff})
    elif class_name in _CURVE_THRESHOLDS:
        metric.config = json.dumps({"num_thresholds": AUC_THRESHOLDS})
    if threshold is not None:
        metric.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
            slicing_specs=threshold_slices or [tfma.SlicingSpec()], threshold=threshold))
    return metric


def slicing_specs(config: Config) -> list[tfma.SlicingSpec]:
    return [tfma.SlicingSpec()] + [
        tfma.SlicingSpec(feature_keys=list(columns)) for columns in config.evaluation.slices
    ]


def eval_config_for(config: Config, metrics: list[tfma.MetricConfig]) -> tfma.EvalConfig:
    """Raw eval examples through the serving signature, label from `transform_features`, the
    configured slices, and only the listed metrics."""
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                # Its signatures, not a Keras model: unset, TFMA loads each model once more as
                # Keras just to find out its type (the Trainer saves no Keras traces anyway).
                model_type=tfma.TF_GENERIC,
                signature_name=SERVING_SIGNATURE,
                label_key=LABEL_KEY,
                prediction_key=OUTPUT_KEY,
                preprocessing_function_names=[TRANSFORM_SIGNATURE],
            )
        ],
        slicing_specs=slicing_specs(config),
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        # Not the Keras model's compiled metrics too (its training loss and a 200-threshold AUC
        # beside TFMA's own): nothing reads them, and on this model they were most of TFMA's time.
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
    )


def model_eval_config(config: Config, label: LabelValues | None = None) -> tfma.EvalConfig:
    """The model's EvalConfig; `label` (the window's label values) sets the gate when the
    config has no threshold (`gate`)."""
    gated = gate(config, label)
    metrics = [metric_config(config, name, _threshold(config, name, gated.get(name)))
               for name in metric_names(config, gated)]
    metrics += [tfma.MetricConfig(class_name=name)
                for name in _ALWAYS[config.label.kind] + _PLOTS[config.label.kind]]
    return eval_config_for(config, metrics)

def _judged_metric(config: Config, name: str, tolerance: float) -> tfma.MetricConfig:
    threshold = tfma.MetricThreshold(change_threshold=change_threshold(config, name, tolerance))
    return metric_config(config, name, threshold, threshold_slices=slicing_specs(config))


def pruned_eval_config(config: Config) -> tfma.EvalConfig:
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    if config.label.kind == "binary":
        metrics.append(tfma.MetricConfig(class_name="MeanLabel"))
    metrics += [_judged_metric(config, name, tolerance)
                for name, tolerance in config.variant_tolerance.items()]
    return eval_config_for(config, metrics)


def score_settings(config: Config, label: LabelValues | None = None) -> ScoreSettings:
    """BaselineScores' settings: the model's metrics (no thresholds) and slices, one model
    spec per baseline of the task; per slice only the ranking metric and the count."""
    metrics = [metric_config(config, name)
               for name in metric_names(config, gate(config, label))]
    metrics += [tfma.MetricConfig(class_name=name) for name in _ALWAYS[config.label.kind]]
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name=name, label_key=LABEL_KEY, prediction_key=name)
                     for name in BASELINE_NAMES[config.label.kind]],
        slicing_specs=slicing_specs(config),
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)))
    class_name = config.metric_spec(config.ranking_metric)[0]
    return ScoreSettings(
        kind=config.label.kind,
        eval_config=json_format.MessageToJson(eval_config, sort_keys=True, indent=None),
        # per slice the reviews show the gated metric only: the rest is computed overall
        sliced_metrics=(class_name, "ExampleCount"))


def baseline_settings(config: Config) -> BaselineSettings:
    """NaiveBaselines' settings: the lift gate on the ranking metric, overall."""
    _, key, higher_is_better = config.metric_spec(config.ranking_metric)
    return BaselineSettings(
        metric=key, higher_is_better=higher_is_better, min_lift=config.evaluation.min_lift,
        gated=config.evaluation.gated_baselines(config.label.kind),
        chance_margin=config.evaluation.chance_margin)
