"""The pruned model's TFMA evaluation (candidate: pruned, baseline: dense), as SliceComparisons.

Read with the one TFMA reader (components/shared/tfma_metrics.py): each slice's values of the
judged metrics for both models, the example count and, for a binary label, the mean label
(which tells a slice of one class).
"""

from __future__ import annotations

from typing import Any

from components.shared.tfma_metrics import evaluated_baselines, read_metrics, slice_dict
from components.variant_evaluator.judgement import SliceComparison

EXAMPLE_COUNT = "example_count"
MEAN_LABEL = "mean_label"


def comparisons(evaluation_uri: str, metric_keys: dict[str, str]) -> list[SliceComparison]:
    """`metric_keys`: {config metric name: TFMA metric key}, e.g. {"auc": "auc"}."""
    if not evaluated_baselines(evaluation_uri):
        raise ValueError(f"the evaluation at {evaluation_uri} has no baseline model: the pruned "
                         "model must be evaluated with the dense model as baseline")
    result = []
    for row in read_metrics(evaluation_uri):
        count = row.candidate.get(EXAMPLE_COUNT, row.baseline.get(EXAMPLE_COUNT)) or 0.0
        result.append(SliceComparison(
            slice=dict(sorted(row.slice.items())), example_count=int(round(count)),
            dense={name: row.baseline.get(key) for name, key in metric_keys.items()},
            variant={name: row.candidate.get(key) for name, key in metric_keys.items()},
            label_mean=row.candidate.get(MEAN_LABEL, row.baseline.get(MEAN_LABEL))))
    return result


def validation(evaluation_uri: str) -> dict[str, Any]:
    """TFMA's own verdict with its change thresholds on every slice, however small."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    failed = [dict(sorted(slice_dict(s.slice_key).items()))
              for s in result.metric_validations_per_slice if s.failures]
    return {"validation_ok": bool(result.validation_ok), "failed_slices": failed}
