"""Runs (from ML Metadata and each run's summary.json) and pushed versions (from manifests).

Plain reads: no TensorFlow, so `tfxpipe runs` answers at once.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.versioned_pusher.versions import existing_versions, read_manifest
from pipeline.config import Config
from pipeline.records.mlmd import open_store, run_ids

RUN_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"  # the CLI's run ids: the UTC time a run started
BACKFILL_MARK = "-span-"  # run id of a backfill run: <run id>-span-<N> or -span-<N>-<M>


def backfill_run_id(run_id: str, span: int, last: int | None = None) -> str:
    """The id of a backfill's pipeline run: one span ingested, or spans validated together."""
    return f"{run_id}{BACKFILL_MARK}{span}" + (f"-{last}" if last is not None else "")


def is_backfill_run(run_id: str) -> bool:
    return BACKFILL_MARK in run_id


def parent_run_id(run_id: str) -> str:
    """The CLI run a pipeline run belongs to: itself, or the run a backfill run was made for."""
    return run_id.split(BACKFILL_MARK, 1)[0]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class KnownRun:
    """A run of the CLI: its folder under runs/ (summary, log, report) and its pipeline runs in
    ML Metadata (its own, and one per backfill step). A run halted before TFX started has no
    pipeline run; one halted in the backfill has only backfill runs; one killed has no summary."""

    run_id: str
    started_ms: int
    pipeline_runs: tuple[str, ...]  # in ML Metadata, oldest first

    @property
    def started(self) -> str:
        return datetime.datetime.fromtimestamp(self.started_ms / 1000,
                                               datetime.timezone.utc).isoformat()


def known_runs(config: Config) -> list[KnownRun]:
    """Every run of the pipeline, oldest first: those ML Metadata knows and those only the runs
    folder knows."""
    started: dict[str, int] = {}
    pipeline_runs: dict[str, list[str]] = {}
    if config.metadata_path.is_file():
        for run_id, created_ms in run_ids(open_store(config.metadata_path)):
            parent = parent_run_id(run_id)
            started[parent] = min(started.get(parent, created_ms), created_ms)
            pipeline_runs.setdefault(parent, []).append(run_id)
    if config.runs_dir.is_dir():
        for folder in config.runs_dir.iterdir():
            if folder.name not in started and run_id_time_ms(folder.name) is not None and (
                    (folder / "summary.json").is_file() or (folder / "run.log").is_file()):
                started[folder.name] = run_id_time_ms(folder.name)
    return sorted((KnownRun(r, ms, tuple(pipeline_runs.get(r, ()))) for r, ms in started.items()),
                  key=lambda r: (r.started_ms, r.run_id))


def run_id_time_ms(run_id: str) -> int | None:
    """The start time a run id holds (the CLI's ids are UTC timestamps); None for other names."""
    try:
        moment = datetime.datetime.strptime(run_id, RUN_ID_FORMAT)
    except ValueError:
        return None
    return int(moment.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def find_run(runs: list[KnownRun], wanted: str) -> list[KnownRun]:
    """The runs `wanted` names: the one with that id, else every run whose id starts with it."""
    exact = [r for r in runs if r.run_id == wanted]
    return exact or [r for r in runs if r.run_id.startswith(wanted)]


def list_runs(config: Config) -> list[dict[str, Any]]:
    """Every run, oldest first, with its outcome as the CLI recorded it."""
    return [_listed(run, _read_json(config.runs_dir / run.run_id / "summary.json"))
            for run in known_runs(config)]


def _listed(run: KnownRun, summary: dict[str, Any] | None) -> dict[str, Any]:
    summary = summary or {}
    return {
        "run_id": run.run_id,
        "started": run.started,
        "outcome": summary.get("outcome", "unknown (no summary: the run was stopped, or is "
                                          "running)"),
        "detail": _detail(summary),
        "spans": sorted(s["span"] for s in summary.get("spans") or []),
        "backfilled_spans": summary.get("backfilled_spans") or [],
    }


def _detail(summary: dict[str, Any]) -> str:
    """What decided a run, in a few words."""
    if summary.get("pushed"):
        return f"version {summary.get('pushed_version')}"
    if summary.get("failed_thresholds"):
        failed = summary["failed_thresholds"][0]
        return f"failed {failed['metric']} {failed['threshold']}"
    anomalies = summary.get("anomalies") or []
    if anomalies and summary.get("halted_by") == "pre-flight check":
        first = anomalies[0]
        return f"pre-flight: {first.get('kind', '?')} in span {first.get('span', '?')}"
    if anomalies:
        halted = summary.get("halted_span")
        count = f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}"
        return count + (f" in span {halted}" if halted is not None else "")
    return summary.get("error") or ""


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
            "rollback_of": (manifest.get("rollback") or {}).get("of_version"),
            "metric": metric,
        })
    return versions
