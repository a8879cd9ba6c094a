"""Finds a run to review in ML Metadata, and the artifacts and summary it left.

A review starts from a config and an output root (the project's taxi config and its output root
by default) and a run id (the latest run by default). Everything else is looked up: the run's
executions and artifacts from ML Metadata, its summary.json from its runs folder (rebuilt from
ML Metadata when a run has none).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.versioned_pusher.versions import version_of_model
from pipeline.config import Config, ConfigError, load_config
from pipeline.dag.nodes import (
    EVALUATOR,
    EXAMPLE_VALIDATOR,
    IMPORT_SCHEMA_GEN,
    SCHEMA_GEN,
    SPAN_VALIDATION,
    STATISTICS_GEN,
)
from pipeline.records.mlmd import NodeRecord, custom_property, open_store, run_ids, run_nodes
from pipeline.records.runs import (
    KnownRun,
    find_run,
    known_runs,
    list_runs,
    parent_run_id,
    run_id_time_ms,
)
from pipeline.records.store_check import check_store
from pipeline.records.summary import build_summary, split_row_counts
from pipeline.review.schema_view import load_schema
from pipeline.review.statistics import compare, load_statistics, split_order
from pipeline.review.unavailable import NotAvailable

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "taxi.toml"


class ReviewError(RuntimeError):
    """No run to review: the message says what to do (one line)."""


@dataclass
class PreviousStatistics:
    """Statistics of earlier data (the previous span, or the previous run's data)."""

    run_id: str
    span: int | None
    artifact_id: int
    statistics: dict[str, Any]

    @property
    def label(self) -> str:
        span = f"span {self.span}, " if self.span is not None else ""
        return f"{span}run {self.run_id}"


@dataclass
class ReviewRun:
    config: Config
    run_id: str
    started: str
    nodes: dict[str, NodeRecord]
    summary: dict[str, Any]
    summary_rebuilt: bool = False
    _store: Any = field(default=None, repr=False)

    @property
    def run_dir(self) -> Path:
        return self.config.runs_dir / self.run_id

    def artifact(self, node_id: str, key: str):
        record = self.nodes.get(node_id)
        artifacts = record.outputs.get(key) if record else None
        return artifacts[0] if artifacts else None

    def uri(self, node_id: str, key: str) -> str | None:
        artifact = self.artifact(node_id, key)
        return artifact.uri if artifact is not None else None

    @property
    def statistics_artifact(self):
        return self.artifact(STATISTICS_GEN, "statistics")

    @property
    def span(self) -> int | None:
        return _statistics_span(self.nodes.get(STATISTICS_GEN))

    @cached_property
    def statistics(self) -> dict[str, Any]:
        """{split: DatasetFeatureStatistics} of this run's data; {} without StatisticsGen."""
        uri = self.uri(STATISTICS_GEN, "statistics")
        return load_statistics(uri) if uri else {}

    @cached_property
    def schema(self):
        for node, key in ((IMPORT_SCHEMA_GEN, "schema"), (SCHEMA_GEN, "schema")):
            uri = self.uri(node, key)
            if uri:
                return load_schema(uri)
        return load_schema(self.config.schema.path) if self.config.schema.path else None

    def anomalies(self) -> dict[str, Any]:
        """{split: Anomalies proto} from ExampleValidator; {} when it did not run."""
        artifact = self.artifact(EXAMPLE_VALIDATOR, "anomalies")
        if artifact is None:
            return {}
        found = {}
        for split in json.loads(artifact.properties["split_names"].string_value or "[]"):
            path = Path(artifact.uri) / f"Split-{split}" / "SchemaDiff.pb"
            if path.is_file():
                found[split] = anomalies_pb2.Anomalies.FromString(path.read_bytes())
        return found

    @property
    def evaluation_uri(self) -> str | None:
        return self.uri(EVALUATOR, "evaluation")

    def baseline(self) -> str:
        """The model this run's candidate was compared with: its served version and artifact."""
        uris = self.summary.get("baseline_model") or []
        if not uris:
            return "none (no earlier blessed model)"
        version = version_of_model(str(self.config.model_dir), uris[0])
        return (f"version {version} ({uris[0]})" if version is not None
                else f"{uris[0]} (not a pushed version)")

    @property
    def outcome(self) -> str:
        return self.summary.get("outcome", "unknown")

    def describe(self) -> str:
        lines = [f"run {self.run_id} of pipeline '{self.config.pipeline.name}', started "
                 f"{self.started}: {self.outcome}",
                 f"config: {self.config.config_path}",
                 f"output root: {self.config.output_root}"]
        if self.summary_rebuilt:
            lines.append("(this run left no summary.json: it was stopped, or is still running; "
                         + ("what it recorded in ML Metadata is shown)" if self.nodes
                            else "it recorded nothing in ML Metadata)"))
        return "\n".join(lines)

    def previous_statistics(self) -> PreviousStatistics | NotAvailable:
        """The latest earlier statistics of other data: the previous span, else the previous
        run that read different data. Cached reruns share this run's artifact and are skipped."""
        current = self.statistics_artifact
        if current is None:
            return NotAvailable("this run computed no statistics")
        store = self._store or open_store(self.config.metadata_path)
        for run_id, _ in reversed(_runs_up_to(store, self.run_id)):  # its backfill's too
            nodes = run_nodes(store, self.config.pipeline.name, run_id)
            candidates = [(span, artifact) for span, artifact in span_statistics(nodes)
                          if artifact.id != current.id and (
                              self.span is None or span is None or span <= self.span)]
            if not candidates:
                continue
            span, artifact = max(candidates, key=lambda c: (c[0] or 0, c[1].id))
            return PreviousStatistics(run_id, span, artifact.id, load_statistics(artifact.uri))
        return NotAvailable("no earlier run read other data (reruns of the same data share "
                            "one statistics artifact)")


    def compare_splits(self, base: str = "train", other: str = "eval"):
        """Distances between two splits of this run's data, worst first."""
        if base not in self.statistics or other not in self.statistics:
            return NotAvailable(f"this run has no statistics of splits {base} and {other}")
        return compare(self.statistics[base], self.statistics[other], base, other, self.schema)

    def compare_with_previous(self, split: str = "train"):
        """(previous statistics, distances this vs previous) of one split; NotAvailable when
        there is no earlier data."""
        previous = self.previous_statistics()
        if isinstance(previous, NotAvailable):
            return previous
        if split not in previous.statistics or split not in self.statistics:
            return NotAvailable(f"split {split} is not in both this run's and the previous data")
        table = compare(previous.statistics[split], self.statistics[split], "previous", "this",
                        self.schema)
        table.attrs["caption"] = f"split {split}: this run vs {previous.label}"
        return previous, table


def _runs_up_to(store, run_id: str) -> list[tuple[str, int]]:
    """(pipeline run id, creation ms) of the pipeline runs up to and including those of CLI run
    `run_id` (its backfill's and its own); those started before it when it made none."""
    runs = run_ids(store)
    own = [i for i, (r, _) in enumerate(runs) if parent_run_id(r) == run_id]
    if own:
        return runs[:own[-1] + 1]
    started = run_id_time_ms(run_id)
    return [r for r in runs if started is None or r[1] < started]


def _statistics_span(record: NodeRecord | None) -> int | None:
    """The span of the examples a StatisticsGen execution read (the statistics artifact's own
    `span` property is left at 0 by TFX); None for data without spans (ExampleGen's span 0)."""
    examples = record.inputs.get("examples") if record else None
    if not examples:
        return None
    artifact = examples[0]
    return custom_property(artifact, "span") or None  # ExampleGen records it as custom


def span_statistics(nodes: dict[str, NodeRecord]) -> list[tuple[int | None, Any]]:
    """(span, statistics artifact) of a run: StatisticsGen's, or SpanValidation's (a backfill
    of several spans, one artifact each, with its span as TFX's `span` property)."""
    found = []
    record = nodes.get(STATISTICS_GEN)
    for artifact in (record.outputs.get("statistics", []) if record else []):
        found.append((_statistics_span(record), artifact))
    record = nodes.get(SPAN_VALIDATION)
    for artifact in (record.outputs.get("statistics", []) if record else []):
        span = artifact.properties["span"].int_value if "span" in artifact.properties else 0
        found.append((span or None, artifact))
    return found


def _started(created_ms: int) -> str:
    return datetime.datetime.fromtimestamp(created_ms / 1000, datetime.timezone.utc
                                           ).strftime("%Y-%m-%d %H:%M:%S UTC")


def open_run(config: str | Path | Config | None = None, output_root: str | None = None,
             run_id: str | None = None) -> ReviewRun:
    """The run `run_id` (default: the latest) of the pipeline a config describes.

    `config` defaults to the project's taxi config; `output_root` to the config's. A unique
    prefix of a run id is enough.
    """
    if not isinstance(config, Config):
        config = load_config(config or DEFAULT_CONFIG, output_root or None)
    check_store(config)
    runs = known_runs(config)
    if not runs:
        raise ReviewError(f"no runs yet of pipeline '{config.pipeline.name}' under "
                          f"{config.pipeline_dir} (start one with 'make run' or 'tfxpipe run')")
    matches = [runs[-1]] if not run_id or run_id == "latest" else find_run(runs, run_id)
    if len(matches) != 1:
        known = ", ".join(r.run_id for r in runs[-5:])
        what = "is ambiguous" if matches else "is not a run"
        raise ReviewError(f"'{run_id}' {what} of pipeline '{config.pipeline.name}' "
                          f"(latest runs: {known}; 'tfxpipe runs' lists them all)")
    found = matches[0]
    store = open_store(config.metadata_path) if found.pipeline_runs else None
    nodes: dict[str, NodeRecord] = {}
    for pipeline_run in found.pipeline_runs:  # the backfill's, then its own: the latest wins
        nodes.update(run_nodes(store, config.pipeline.name, pipeline_run))
    summary, rebuilt = _summary(config, found, nodes)
    return ReviewRun(_config_of_run(config, summary), found.run_id, _started(found.started_ms),
                     nodes, summary, rebuilt, store)


def _summary(config: Config, run: KnownRun, nodes: dict[str, NodeRecord]
             ) -> tuple[dict[str, Any], bool]:
    """The run's summary.json, or one rebuilt from ML Metadata when the run left none (it was
    stopped, or is still running); whether it was rebuilt."""
    try:
        return json.loads((config.runs_dir / run.run_id / "summary.json").read_text()), False
    except (OSError, ValueError):
        return (build_summary(config, run.run_id, nodes) if nodes else {"run_id": run.run_id},
                True)


def _config_of_run(config: Config, summary: dict[str, Any]) -> Config:
    """The config the run was made with (its slices, metrics, thresholds), when it still loads
    and names the same pipeline; else the one given. Output root: the one given."""
    path = summary.get("config")
    if not path or not Path(path).is_file() or Path(path) == Path(config.config_path):
        return config
    try:
        own = load_config(path, str(config.output_root))
    except ConfigError:
        return config
    return own if own.pipeline.name == config.pipeline.name else config


def runs_table(config: Config) -> pd.DataFrame:
    """Every run of the pipeline, newest first, with its outcome."""
    rows = list(reversed(list_runs(config)))
    frame = pd.DataFrame(rows, columns=["run_id", "started", "outcome", "detail"])
    frame.attrs["empty"] = "no runs yet"
    return frame


def statistics_history(run: ReviewRun) -> pd.DataFrame:
    """Each distinct statistics artifact (one per span, or per change of data) up to this run."""
    seen: dict[int, dict[str, Any]] = {}
    store = run._store or (open_store(run.config.metadata_path)
                           if run.config.metadata_path.is_file() else None)
    for run_id, created in _runs_up_to(store, run.run_id) if store is not None else []:
        nodes = run_nodes(store, run.config.pipeline.name, run_id)
        for span, artifact in span_statistics(nodes):
            if artifact.id in seen:
                seen[artifact.id]["runs"] += 1
                continue
            try:
                rows = split_row_counts(artifact.uri)
            except OSError:
                rows = {}
            seen[artifact.id] = {
                "span": span,
                "first_run": run_id, "started": _started(created), "runs": 1,
                "rows": ", ".join(f"{k} {rows[k]}" for k in sorted(rows, key=split_order)),
                "artifact_id": artifact.id, "this_run": artifact.id == (
                    run.statistics_artifact.id if run.statistics_artifact else None),
            }
    frame = pd.DataFrame(list(seen.values()),
                         columns=["span", "first_run", "started", "runs", "rows", "artifact_id",
                                  "this_run"])
    frame.attrs["empty"] = "no statistics computed yet"
    return frame
