"""The pruned model's TFMA evaluation (candidate: pruned, baseline: dense), as SliceComparisons.

TFMA writes one MetricsForSlice per slice holding both models' values (and their diffs); this
keeps the two models' plain values of the judged metrics, the example count and, for a binary
label, the mean label (which tells a slice of one class).
"""

from __future__ import annotations

from typing import Any

from components.variant_evaluator.judgement import SliceComparison

EXAMPLE_COUNT = "example_count"
MEAN_LABEL = "mean_label"


def _slice_key(slice_key: Any) -> dict[str, Any]:
    # Imported here: the versioned_pusher package imports this component's artifact type.
    from components.versioned_pusher.manifest import slice_dict

    return dict(sorted(slice_dict(slice_key).items()))


def _plain_values(record: Any) -> dict[str, dict[str, float]]:
    """{model name: {metric key: value}} of unweighted, non-diff scalar metrics."""
    values: dict[str, dict[str, float]] = {}
    # TFMA's own metrics (example_weighted set to false) first: a Keras model's compiled metrics
    # come under the same names without that field (e.g. its 200-threshold "auc"), and
    # example-weighted twins last.
    entries = sorted(record.metric_keys_and_values, key=lambda kv: (
        2 if kv.key.example_weighted.value else 0 if kv.key.HasField("example_weighted") else 1))
    for entry in entries:
        key = entry.key
        if key.is_diff or key.HasField("sub_key") or key.HasField("aggregation_type"):
            continue
        kind = entry.value.WhichOneof("type")
        if kind == "double_value":
            number = entry.value.double_value.value
        elif kind == "bounded_value":
            number = entry.value.bounded_value.value.value
        else:
            continue
        values.setdefault(key.model_name, {}).setdefault(key.name, number)
    return values


def baseline_names(evaluation_uri: str) -> set[str]:
    import tensorflow_model_analysis as tfma

    eval_config = tfma.writers.eval_config_writer.load_eval_run(evaluation_uri)[0]
    names = {spec.name for spec in eval_config.model_specs if spec.is_baseline}
    if not names:
        raise ValueError(f"the evaluation at {evaluation_uri} has no baseline model: the pruned "
                         "model must be evaluated with the dense model as baseline")
    return names


def comparisons(evaluation_uri: str, metric_keys: dict[str, str]) -> list[SliceComparison]:
    """`metric_keys`: {config metric name: TFMA metric key}, e.g. {"auc": "auc"}."""
    import tensorflow_model_analysis as tfma

    baselines = baseline_names(evaluation_uri)
    result = []
    for record in tfma.load_metrics(evaluation_uri):
        if record.WhichOneof("slicing_spec_oneof") == "cross_slice_key":
            continue
        by_model = _plain_values(record)
        baseline = next((v for name, v in by_model.items() if name in baselines), {})
        candidate = next((v for name, v in by_model.items() if name not in baselines), {})
        count = candidate.get(EXAMPLE_COUNT, baseline.get(EXAMPLE_COUNT, 0.0))
        result.append(SliceComparison(
            slice=_slice_key(record.slice_key), example_count=int(round(count)),
            dense={name: baseline.get(key) for name, key in metric_keys.items()},
            variant={name: candidate.get(key) for name, key in metric_keys.items()},
            label_mean=candidate.get(MEAN_LABEL, baseline.get(MEAN_LABEL))))
    return result


def validation(evaluation_uri: str) -> dict[str, Any]:
    """TFMA's own verdict with its change thresholds on every slice, however small."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    failed = [_slice_key(s.slice_key) for s in result.metric_validations_per_slice if s.failures]
    return {"validation_ok": bool(result.validation_ok), "failed_slices": failed}
