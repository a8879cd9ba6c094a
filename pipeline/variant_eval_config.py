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

import tensorflow_model_analysis as tfma

from pipeline.config import Config
from pipeline.eval_config import change_threshold, eval_config_for, metric_config, slicing_specs


def _judged_metric(config: Config, name: str, tolerance: float) -> tfma.MetricConfig:
    threshold = tfma.MetricThreshold(change_threshold=change_threshold(config, name, tolerance))
    return metric_config(config, name, threshold, threshold_slices=slicing_specs(config))


def build_variant_eval_config(config: Config) -> tfma.EvalConfig:
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    if config.label.kind == "binary":
        metrics.append(tfma.MetricConfig(class_name="MeanLabel"))
    metrics += [_judged_metric(config, name, tolerance)
                for name, tolerance in config.variant_tolerance.items()]
    return eval_config_for(config, metrics)
