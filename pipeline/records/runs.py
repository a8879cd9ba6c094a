"""Runs (from ML Metadata and each run's summary.json) and pushed versions (from manifests).

Plain reads: no TensorFlow, so `tfxpipe runs` answers at once.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from components.versioned_pusher.versions import existing_versions, read_manifest
from pipeline.config import Config
from pipeline.records.mlmd import open_store, run_ids

BACKFILL_MARK = "-span-"  # run id of a backfill run: <run id>-span-<N> or -span-<N>-<M>


def backfill_run_id(run_id: str, span: int, last: int | None = None) -> str:
    """The id of a backfill's pipeline run: one span ingested, or spans validated together."""
    return f"{run_id}{BACKFILL_MARK}{span}" + (f"-{last}" if last is not None else "")


def is_backfill_run(run_id: str) -> bool:
    return BACKFILL_MARK in run_id


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def list_runs(config: Config) -> list[dict[str, Any]]:
    """Every run MLMD knows, oldest first, with its outcome when the CLI recorded one."""
    if not config.metadata_path.is_file():
        return []
    runs = []
    for run_id, created_ms in run_ids(open_store(config.metadata_path)):
        if is_backfill_run(run_id):
            continue  # a span ingested for a run: part of that run (summary "backfilled_spans")
        summary = _read_json(config.runs_dir / run_id / "summary.json") or {}
        detail = summary.get("error", "")
        if summary.get("pushed"):
            detail = f"version {summary.get('pushed_version')}"
        elif summary.get("failed_thresholds"):
            failed = summary["failed_thresholds"][0]
            detail = f"failed {failed['metric']} {failed['threshold']}"
        elif summary.get("anomalies"):
            detail = f"{len(summary['anomalies'])} anomalies"
            if summary.get("halted_span") is not None:
                detail += f" in span {summary['halted_span']}"
        spans = sorted(s["span"] for s in summary.get("spans") or [])
        runs.append({
            "run_id": run_id,
            "started": datetime.datetime.fromtimestamp(created_ms / 1000,
                                                       datetime.timezone.utc).isoformat(),
            "outcome": summary.get("outcome", "unknown (no summary)"),
            "detail": detail,
            "spans": spans,
            "backfilled_spans": summary.get("backfilled_spans") or [],
        })
    runs += _halted_before_tfx(config, {r["run_id"] for r in runs})
    return sorted(runs, key=lambda r: r["started"])


def _halted_before_tfx(config: Config, known: set[str]) -> list[dict[str, Any]]:
    """Runs the pre-flight check halted: they have a summary but never reached ML Metadata."""
    found = []
    for summary_path in sorted(config.runs_dir.glob("*/summary.json")):
        run_id = summary_path.parent.name
        summary = _read_json(summary_path) or {}
        if run_id in known or summary.get("halted_by") != "pre-flight check":
            continue
        first = (summary.get("anomalies") or [{}])[0]
        found.append({
            "run_id": run_id,
            "started": datetime.datetime.strptime(run_id, "%Y%m%dT%H%M%S%fZ").replace(
                tzinfo=datetime.timezone.utc).isoformat(),
            "outcome": summary.get("outcome", "halted by data validation"),
            "detail": f"pre-flight: {first.get('kind', '?')} in span {first.get('span', '?')}",
        })
    return found


def list_versions(config: Config) -> list[dict[str, Any]]:
    """Pushed versions of the model, oldest first, read from their manifest.json."""
    versions = []
    for version in existing_versions(str(config.model_dir)):
        entry = config.model_dir / str(version)
        manifest = read_manifest(str(config.model_dir), version) or {}
        overall = (manifest.get("metrics") or {}).get("overall") or {}
        metric = next((f"{k}={v:.4f}" for k, v in overall.items()
                       if k in ("auc", "sparse_categorical_accuracy", "mean_squared_error")
                       and isinstance(v, float)), "")
        versions.append({
            "version": int(entry.name),
            "path": str(entry),
            "pushed_at": manifest.get("pushed_at", "?"),
            "run_id": manifest.get("pipeline_run_id", "?"),
            "baseline_version": manifest.get("baseline_version"),
            "metric": metric,
        })
    return versions
