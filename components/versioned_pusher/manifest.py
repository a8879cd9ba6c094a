"""The pushed version's manifest, built from plain values, with no file I/O.

Kept apart from the executor so what a manifest says can be tested without copying models.
The manifest ties a served version to its run, data, schema, hyperparameters, code, metrics and
the version it was compared with; `tfxpipe lineage` reads it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from components.shared.tfma_metrics import SliceMetrics
from components.versioned_pusher.params import Provenance


@dataclass(frozen=True)
class Origin:
    """Who pushed the version, and when."""

    pushed_at: str
    pipeline_name: str | None
    pipeline_run_id: str | None
    model_name: str


@dataclass(frozen=True)
class TrainingData:
    """The artifacts the model was trained on, as references (uri, id, span)."""

    examples: dict[str, Any] | None
    examples_window: list[dict[str, Any]]
    schema: dict[str, Any] | None


@dataclass(frozen=True)
class Judgement:
    """How the model was judged: its metrics, its blessing, and the baseline it beat."""

    metrics: dict[str, Any] | None
    blessing: dict[str, Any]
    baseline_model: dict[str, Any] | None
    baseline_version: int | None


def build_manifest(version: int, model: dict[str, Any], origin: Origin, data: TrainingData,
                   provenance: Provenance, judgement: Judgement,
                   variants: tuple[list[dict[str, Any]], dict[str, Any]] | None = None
                   ) -> dict[str, Any]:
    """Everything needed to trace a served version back to its data, schema, code and metrics.

    `variants`: (the manifest's `variants`, its `optimization`), only with an optimization
    stage (see `variants_section`).
    """
    manifest = {"version": version, **asdict(origin), "model": model, **asdict(data),
                **asdict(provenance), **asdict(judgement)}
    if variants is not None:
        manifest["variants"], manifest["optimization"] = variants
    return manifest


def with_tuned(provenance: Provenance, tuned: dict[str, Any] | None) -> Provenance:
    """The provenance with `hyperparameters.tuned`: the model settings that came from a Tuner
    (the Trainer's training summary), which replace the configured ones under `model`; `tuned`
    is null when nothing was tuned."""
    hyperparameters = provenance.hyperparameters
    if hyperparameters is None and not tuned:
        return provenance
    return replace(provenance, hyperparameters={**(hyperparameters or {}),
                                                "tuned": tuned or None})


def metrics_section(rows: list[SliceMetrics]) -> dict[str, Any]:
    """{"overall": {name: value}, "slices": [{"slice": {...}, "metrics": {...}}]} of the
    candidate, from the one TFMA reader (components/shared/tfma_metrics.py)."""
    overall = next((row.candidate for row in rows if not row.slice), {})
    return {"overall": overall,
            "slices": [{"slice": row.slice, "metrics": row.candidate}
                       for row in rows if row.slice]}


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
