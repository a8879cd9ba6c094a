"""The TFMA EvalConfig of the pruned model: candidate pruned, baseline the dense Trainer model.

Derived from `pipeline/eval_config.py`: the same model spec (serving signature, label from the
`transform_features` signature) and the same slices. Its metrics are the ones the optimization
stage judges (each with a change threshold against the baseline on every slicing spec), the
example count and, for a binary label, the mean label (it tells one-class slices apart).

TFMA applies those change thresholds to every slice, down to slices of one example, so its own
validation is stricter than the stage's rule (slices under `optimization.min_slice_examples` are
reported, not judged): the VariantEvaluator reads the metrics of both models and judges; TFMA's
validation result is kept in variants.json for reference.
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2

from pipeline.config import Config
from pipeline.eval_config import PREDICTION_KEY, slicing_specs
from pipeline.modules.features import LABEL_KEY

_AT_THRESHOLD = {"Precision", "Recall", "F1Score"}
_CHANGE_EPSILON = 1e-10  # as in eval_config: "no change at all" never fails on float noise


def _judged_metric(config: Config, name: str, tolerance: float) -> tfma.MetricConfig:
    class_name, _, higher_is_better = config.metric_spec(name)
    metric = tfma.MetricConfig(class_name=class_name)
    cutoff = config.evaluation.decision_threshold
    if class_name in _AT_THRESHOLD:
        metric.config = json.dumps({"thresholds": [cutoff]})
    elif class_name == "BinaryAccuracy":
        metric.config = json.dumps({"threshold": cutoff})
    change = tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.HIGHER_IS_BETTER if higher_is_better
        else tfma.MetricDirection.LOWER_IS_BETTER)
    change.absolute.value = (-tolerance - _CHANGE_EPSILON if higher_is_better
                             else tolerance + _CHANGE_EPSILON)
    metric.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
        slicing_specs=slicing_specs(config),
        threshold=tfma.MetricThreshold(change_threshold=change)))
    return metric


def build_variant_eval_config(config: Config) -> tfma.EvalConfig:
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    if config.label.kind == "binary":
        metrics.append(tfma.MetricConfig(class_name="MeanLabel"))
    metrics += [_judged_metric(config, name, tolerance)
                for name, tolerance in config.variant_tolerance.items()]
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key=LABEL_KEY,
                prediction_key=PREDICTION_KEY,
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=slicing_specs(config),
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        # Not the Keras model's own compiled metrics (its loss and 200-threshold "auc"): nothing
        # here reads them, and computing them is most of TFMA's time on this model (31 s -> 12 s
        # on the quick taxi sample).
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
    )
