"""The one reader of a TFMA evaluation: each slice's metrics for the candidate and the
baseline model, with their differences, and the thresholds that failed.

Every consumer (the pushed version's manifest, the run summary, lineage, the review, the
VariantEvaluator's reading of the pruned model's evaluation) goes through `read_metrics` and
`read_failures`, so a metric has the same name and value wherever it is shown:
- scalar metrics only (per-class sub-keys, aggregates and matrices are left out); a metric of a
  model output other than the only one is named `<output>/<metric>`;
- when TFMA holds a metric twice under one name, its own unweighted value wins over a Keras
  model's compiled metric (no `example_weighted` field), which wins over the weighted twin;
- values that are not finite (an AUC on a slice of one class) are None;
- cross-slice comparisons are skipped; slices come overall first, then by the number of
  columns and their text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from components.shared.quiet import quiet_tensorflow_warnings

CANDIDATE, BASELINE, DIFF = "candidate", "baseline", "diff"


@dataclass
class SliceMetrics:
    slice: dict[str, Any]                                  # {} is the overall slice
    candidate: dict[str, float | None] = field(default_factory=dict)
    baseline: dict[str, float | None] = field(default_factory=dict)
    diff: dict[str, float | None] = field(default_factory=dict)  # candidate - baseline


def slice_dict(slice_key: Any) -> dict[str, Any]:
    """{column: value} of a TFMA SliceKey proto; {} is the overall slice."""
    out: dict[str, Any] = {}
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else None
        out[single.column] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def slice_name(slice_key: dict[str, Any] | None) -> str:
    """`payment_type=Cash x trip_start_hour=16`; `overall` for the empty slice."""
    return " x ".join(f"{k}={v}" for k, v in (slice_key or {}).items()) or "overall"


def evaluated_baselines(evaluation_uri: str) -> set[str]:
    """The model names of the baselines the evaluation's saved EvalConfig declares."""
    import tensorflow_model_analysis as tfma

    eval_config = tfma.writers.eval_config_writer.load_eval_run(evaluation_uri)[0]
    return {spec.name for spec in eval_config.model_specs if spec.is_baseline} \
        if eval_config else set()


def read_metrics(evaluation_uri: str) -> list[SliceMetrics]:
    """Every slice of the evaluation, overall first (see the module docstring)."""
    import tensorflow_model_analysis as tfma

    with quiet_tensorflow_warnings():
        records = list(tfma.load_metrics(evaluation_uri))
        baselines = evaluated_baselines(evaluation_uri) or {tfma.BASELINE_KEY}
    return metrics_of_records(records, baselines)


def metrics_of_records(records: Iterable[Any], baselines: Iterable[str] = ("baseline",)
                       ) -> list[SliceMetrics]:
    """`read_metrics` on MetricsForSlice protos already loaded."""
    baselines = set(baselines)
    rows = []
    for record in records:
        if record.WhichOneof("slicing_spec_oneof") == "cross_slice_key":
            continue
        row = SliceMetrics(slice_dict(record.slice_key))
        for entry in sorted(record.metric_keys_and_values, key=_preference):
            key = entry.key
            if key.HasField("sub_key") or key.HasField("aggregation_type"):
                continue
            number = _number(entry.value)
            if number is _NOT_SCALAR:
                continue
            role = DIFF if key.is_diff else BASELINE if key.model_name in baselines else CANDIDATE
            name = f"{key.output_name}/{key.name}" if key.output_name else key.name
            getattr(row, role).setdefault(name, number)
        rows.append(row)
    return sorted(rows, key=lambda r: (len(r.slice), sorted((k, str(v))
                                                           for k, v in r.slice.items())))


def _preference(entry: Any) -> int:
    """TFMA's unweighted value (example_weighted false) first, then a Keras model's compiled
    metric of the same name (no example_weighted field), then the weighted twin."""
    weighted = entry.key.example_weighted
    return 2 if weighted.value else 0 if entry.key.HasField("example_weighted") else 1


_NOT_SCALAR = object()


def _number(value: Any) -> Any:
    """The scalar of a MetricValue (None when not finite); _NOT_SCALAR for other kinds."""
    kind = value.WhichOneof("type")
    if kind == "double_value":
        number = value.double_value.value
    elif kind == "bounded_value":
        number = value.bounded_value.value.value
    else:
        return _NOT_SCALAR
    return number if math.isfinite(number) else None


def read_failures(evaluation_uri: str) -> list[dict[str, Any]]:
    """The thresholds the candidate failed, one row per metric and slice: `metric`, `is_diff`
    (a change threshold against the baseline), `slice`, `value`, `threshold` (in words)."""
    import tensorflow_model_analysis as tfma

    with quiet_tensorflow_warnings():
        result = tfma.load_validation_result(evaluation_uri)
    rows = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            value = _number(failure.metric_value)
            rows.append({"metric": failure.metric_key.name,
                         "is_diff": failure.metric_key.is_diff,
                         "slice": slice_dict(per_slice.slice_key),
                         "value": None if value is _NOT_SCALAR else value,
                         "threshold": threshold_text(failure.metric_threshold)})
    return rows


def threshold_text(threshold: Any) -> str:
    """A MetricThreshold in words: `>= 0.7 and change vs baseline >= -0.01`."""
    from tensorflow_model_analysis.proto.config_pb2 import MetricDirection

    parts = []
    if threshold.HasField("value_threshold"):
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            parts.append(f">= {bound.lower_bound.value:.4g}")
        if bound.HasField("upper_bound"):
            parts.append(f"<= {bound.upper_bound.value:.4g}")
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        sign = ">=" if change.direction == MetricDirection.HIGHER_IS_BETTER else "<="
        parts.append(f"change vs baseline {sign} {change.absolute.value:.4g}")
    return " and ".join(parts)
