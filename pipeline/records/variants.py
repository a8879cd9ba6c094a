"""The optimization stage in a run's summary: one row per variant (summary.json `variants`).

Rows come from the VariantEvaluator's variants.json (verdicts, sizes, latency, per-slice deltas)
and the pushed version's manifest (where each variant went, if it went anywhere).
"""

from __future__ import annotations

import os
from typing import Any

from components.shared.artifacts import ModelVariants, read_json
from components.versioned_pusher.versions import MANIFEST_FILE
from pipeline.dag.nodes import PUSHER, VARIANT_EVALUATOR
from pipeline.records.mlmd import NodeRecord, custom_property


def variant_rows(nodes: dict[str, NodeRecord]) -> list[dict[str, Any]] | None:
    """The contract rows of summary.json `variants`; None when the run had no such stage."""
    record = nodes.get(VARIANT_EVALUATOR)
    artifacts = record.outputs.get("variants") if record else None
    result = read_json(artifacts[0].uri, ModelVariants.FILE) if artifacts else None
    if result is None:
        return None
    pushed_dir, dense_pushed = None, False
    pusher = nodes.get(PUSHER)
    if pusher and pusher.outputs.get("pushed_model"):
        pushed = pusher.outputs["pushed_model"][0]
        dense_pushed = bool(custom_property(pushed, "pushed"))
        pushed_dir = custom_property(pushed, "pushed_destination") if dense_pushed else None
    manifest = read_json(pushed_dir, MANIFEST_FILE) if pushed_dir else None
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
