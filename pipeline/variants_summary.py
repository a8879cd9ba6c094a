"""The optimization stage in a run's summary: one row per variant (summary.json `variants`) and
one terminal line per variant.

Rows come from the VariantEvaluator's variants.json (verdicts, sizes, latency, per-slice deltas)
and the pushed version's manifest (where each variant went, if it went anywhere).
"""

from __future__ import annotations

import json
import os
from typing import Any

from pipeline.mlmd import NodeRecord, custom_property

VARIANT_EVALUATOR = "VariantEvaluator"
PUSHER = "VersionedPusher"


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def variant_rows(nodes: dict[str, NodeRecord]) -> list[dict[str, Any]] | None:
    """The contract rows of summary.json `variants`; None when the run had no such stage."""
    record = nodes.get(VARIANT_EVALUATOR)
    artifacts = record.outputs.get("variants") if record else None
    result = _read_json(os.path.join(artifacts[0].uri, "variants.json")) if artifacts else None
    if result is None:
        return None
    pushed_dir, dense_pushed = None, False
    pusher = nodes.get(PUSHER)
    if pusher and pusher.outputs.get("pushed_model"):
        pushed = pusher.outputs["pushed_model"][0]
        dense_pushed = bool(custom_property(pushed, "pushed"))
        pushed_dir = custom_property(pushed, "pushed_destination") if dense_pushed else None
    manifest = _read_json(os.path.join(pushed_dir, "manifest.json")) if pushed_dir else None
    in_version = {v["name"]: v.get("path") for v in (manifest or {}).get("variants") or []}
    rows = []
    for variant in result["variants"]:
        relative = in_version.get(variant["name"])
        reason = variant.get("reason", "")
        if variant.get("blessed") and not relative:
            reason += ("; not pushed: the dense model is not blessed" if pusher and not
                       dense_pushed else "; not pushed")
        rows.append({
            "name": variant["name"],
            "format": variant["format"],
            "size_bytes": variant.get("size_bytes"),
            "gzip_bytes": variant.get("gzip_bytes"),
            "weights_bytes": variant.get("weights_bytes"),
            "weights_gzip_bytes": variant.get("weights_gzip_bytes"),
            "sparsity": variant.get("sparsity"),
            "blessed": bool(variant.get("blessed")),
            "reason": reason,
            "pushed_path": os.path.join(pushed_dir, relative) if relative else None,
            "latency_ms": variant.get("latency_ms"),
            "deltas": variant.get("deltas") or [],
        })
    return rows


def _kb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KB"


def _overall_delta(row: dict[str, Any]) -> str:
    overall = [d for d in row["deltas"] if not d["slice"] and d["delta"] is not None]
    return ", ".join(f"{d['metric']} {d['delta']:+.4f}" for d in overall) or "no delta"


def render_variants(rows: list[dict[str, Any]] | None) -> list[str]:
    """One line per variant: blessed or not, pushed or not, format, size, AUC delta overall,
    median latency, and why."""
    if rows is None:
        return []
    lines = ["variants:"]
    for row in rows:
        state = ("blessed, pushed" if row["pushed_path"] else
                 "blessed, not pushed" if row["blessed"] else "NOT blessed")
        sparsity = f", sparsity {row['sparsity']:.2f}" if row["sparsity"] is not None else ""
        p50 = (f", p50 {row['latency_ms']['p50']:.3f} ms" if row.get("latency_ms") else "")
        lines.append(f"  {row['name']:<15} {state:<20} {row['format']} "
                     f"{_kb(row['size_bytes'])} (gzip {_kb(row['gzip_bytes'])}){sparsity}, "
                     f"{_overall_delta(row)} overall{p50}: {row['reason']}")
    return lines
