"""The pushed version's manifest, built from plain values and TFMA protos, with no file I/O.

Kept apart from the executor so what a manifest says can be tested without copying models.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from google.protobuf import text_format
from tensorflow_model_analysis.proto import metrics_for_slice_pb2, validation_result_pb2

MANIFEST_FILE = "manifest.json"

SliceKey = metrics_for_slice_pb2.SliceKey


def build_manifest(
    *,
    version: int,
    pushed_at: str,
    pipeline_name: str | None,
    pipeline_run_id: str | None,
    model_name: str,
    model: dict[str, Any],
    data_files: Any,
    examples: dict[str, Any] | None,
    schema: dict[str, Any] | None,
    hyperparameters: Any,
    code_revision: Any,
    metrics: dict[str, Any] | None,
    blessing: dict[str, Any],
    baseline_model: dict[str, Any] | None,
    baseline_version: int | None,
    variants: list[dict[str, Any]] | None = None,
    optimization: dict[str, Any] | None = None,
    spans: Any = None,
    examples_window: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything needed to trace a served version back to its data, schema, code and metrics.

    Keyword-only so that a caller cannot silently swap two same-typed fields.
    """
    manifest = {
        "version": version,
        "pushed_at": pushed_at,
        "pipeline_name": pipeline_name,
        "pipeline_run_id": pipeline_run_id,
        "model_name": model_name,
        "model": model,
        "data_files": data_files,
        "examples": examples,
        "examples_window": examples_window,
        "spans": spans,
        "schema": schema,
        "hyperparameters": hyperparameters,
        "code_revision": code_revision,
        "metrics": metrics,
        "blessing": blessing,
        "baseline_model": baseline_model,
        "baseline_version": baseline_version,
    }
    if variants is not None:  # only with an optimization stage: see variants_section
        manifest["variants"] = variants
        manifest["optimization"] = optimization
    return manifest


# What the manifest keeps of each variant (variants.json also has the optimizer's raw details).
_VARIANT_FIELDS = ("name", "format", "size_bytes", "gzip_bytes", "weights_bytes",
                   "weights_gzip_bytes", "sparsity", "blessed", "reason", "latency_ms", "deltas",
                   "inputs", "files", "quantization", "target_sparsity", "judged_slices",
                   "small_slices", "evaluation")
VARIANTS_DIR = "variants"


def variants_section(result: dict[str, Any], pushed: set[str]
                     ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(manifest["variants"], manifest["optimization"]) from a VariantEvaluator's variants.json.

    `pushed`: the names copied into the version; each entry's `path` is relative to the version
    directory, or null with the reason it was not pushed.
    """
    entries = []
    for variant in result["variants"]:
        entry = {k: variant.get(k) for k in _VARIANT_FIELDS}
        name = variant["name"]
        entry["path"] = f"{VARIANTS_DIR}/{name}" if name in pushed else None
        if name not in pushed:
            entry["not_pushed"] = "not blessed: " + variant.get("reason", "")
        entries.append(entry)
    dense = {k: v for k, v in result["dense"].items() if k not in ("path", "sparsity_detail")}
    return entries, {"dense": dense, "judgement": result.get("judgement")}


def to_json(manifest: dict[str, Any]) -> str:
    """Stable text (sorted keys) that strict JSON readers accept: NaN and infinities become null."""
    return json.dumps(_finite(manifest), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def slice_dict(slice_key: SliceKey) -> dict[str, Any]:
    """{feature: value} of a TFMA slice key; {} is the overall slice."""
    out: dict[str, Any] = {}
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else None
        out[single.column] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def metrics_from_tfma(
    records: Iterable[metrics_for_slice_pb2.MetricsForSlice],
    baseline_model_names: Iterable[str] = ("baseline",),
) -> dict[str, Any]:
    """{"overall": {name: value}, "slices": [{"slice": {...}, "metrics": {...}}]} of the candidate.

    Only plain scalar metrics of the candidate model are kept: diffs against the baseline, the
    baseline's own values, per-class/top-k sub-keys and averaged aggregates would need longer
    names than the simple ones ("auc", "example_count") readers of the manifest look up.
    """
    baselines = set(baseline_model_names)
    overall: dict[str, Any] = {}
    slices = []
    for record in records:
        if record.WhichOneof("slicing_spec_oneof") == "cross_slice_key":
            continue
        values = _scalar_metrics(record, baselines)
        key = slice_dict(record.slice_key)
        if key:
            slices.append({"slice": key, "metrics": values})
        else:
            overall = values
    slices.sort(key=lambda s: (len(s["slice"]), sorted((k, str(v)) for k, v in s["slice"].items())))
    return {"overall": overall, "slices": slices}


def _scalar_metrics(
    record: metrics_for_slice_pb2.MetricsForSlice, baselines: set[str]
) -> dict[str, float]:
    values: dict[str, float] = {}
    # TFMA's own unweighted metrics first (example_weighted set to false), then a Keras model's
    # compiled metrics of the same name (no example_weighted field: e.g. its 200-threshold
    # "auc", which differs on small slices), then weighted twins: the first one seen is kept.
    entries = sorted(record.metric_keys_and_values, key=lambda kv: (
        2 if kv.key.example_weighted.value else 0 if kv.key.HasField("example_weighted") else 1))
    for entry in entries:
        key = entry.key
        if (key.is_diff or key.model_name in baselines or key.HasField("sub_key")
                or key.HasField("aggregation_type")):
            continue
        number = _number(entry.value)
        if number is not None:
            name = f"{key.output_name}/{key.name}" if key.output_name else key.name
            values.setdefault(name, number)
    return values


def validation_failures(result: validation_result_pb2.ValidationResult) -> list[dict[str, Any]]:
    """The thresholds the model missed, one row per metric and slice: why it is not pushed."""
    rows = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            rows.append({
                "metric": failure.metric_key.name,
                "is_diff": failure.metric_key.is_diff,
                "slice": slice_dict(per_slice.slice_key),
                "value": _number(failure.metric_value),
                "threshold": text_format.MessageToString(failure.metric_threshold,
                                                         as_one_line=True),
            })
    return rows


def _number(value: metrics_for_slice_pb2.MetricValue) -> float | None:
    """The scalar of a metric value; None for matrices, arrays and other non-scalar kinds."""
    kind = value.WhichOneof("type")
    if kind == "double_value":
        return value.double_value.value
    if kind == "bounded_value":
        return value.bounded_value.value.value
    return None
