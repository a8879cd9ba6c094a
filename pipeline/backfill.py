"""Backfill: ingest and validate the spans a run needs that ML Metadata has not validated yet.

TFX's ExampleGen ingests one span per execution, and a window of spans is resolved from earlier
executions. So before a run trains on spans 25-48, every one of them must have been ingested and
have passed the data gates, with its current files and under the current rules: those that have
not are run through the data part of the pipeline (ExampleGen -> StatisticsGen ->
ExampleValidator -> DataDrift -> DataGate), oldest first, each as its own pipeline run. A span
whose files did not change is never ingested twice: its ExampleGen execution is found by the
input fingerprint TFX itself computes (file count, sizes and modification times).

The previous span of the target is validated too, so drift is always measured against it.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.config import Config
from pipeline.data import InputData
from pipeline.spans import has_span_spec

BACKFILL_MARK = "-span-"  # run id of a backfill run: <run id>-span-<N>


@dataclass
class BackfillResult:
    span: int
    run_id: str
    seconds: float
    states: dict[str, str] = field(default_factory=dict)
    failure: BaseException | None = None


def backfill_run_id(run_id: str, span: int) -> str:
    return f"{run_id}{BACKFILL_MARK}{span}"


def is_backfill_run(run_id: str) -> bool:
    return BACKFILL_MARK in run_id


def current_fingerprint(data: InputData, span: int) -> str:
    """ExampleGen's input fingerprint of a span's files, computed by TFX's own function."""
    from tfx.components.example_gen import utils
    from tfx.proto import example_gen_pb2, range_config_pb2

    split = example_gen_pb2.Input.Split(name="single_split", pattern=data.pattern)
    range_config = None
    if has_span_spec(data.pattern):
        range_config = range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
            start_span_number=span, end_span_number=span))
    fingerprint, _, _ = utils.calculate_splits_fingerprint_span_and_version(
        data.input_base, [split], range_config)
    return fingerprint


def validated_spans(config: Config, data: InputData, key: str, spans: set[int]
                    ) -> dict[int, int]:
    """{span: Examples id} of those `spans` whose current files passed the DataGate under `key`.
    """
    from pipeline.mlmd import custom_property, open_store

    if not config.metadata_path.is_file():
        return {}
    store = open_store(config.metadata_path)
    results = [r for r in store.get_artifacts_by_type("DataValidationResult")
               if custom_property(r, "passed") == 1
               and custom_property(r, "validation_key") == key
               and custom_property(r, "examples_id")]
    if not results:
        return {}
    examples = store.get_artifacts_by_id(sorted({custom_property(r, "examples_id")
                                                 for r in results}))
    fingerprints: dict[int, str] = {}
    found: dict[int, int] = {}
    for artifact in sorted(examples, key=lambda a: a.id):
        span = custom_property(artifact, "span") or 0
        if span not in spans:
            continue
        if span not in fingerprints:
            fingerprints[span] = current_fingerprint(data, span)
        if custom_property(artifact, "input_fingerprint") == fingerprints[span]:
            found[span] = artifact.id
    return found


def spans_to_ingest(config: Config, data: InputData) -> list[int]:
    """Spans of the window, and the target's previous span, not validated as they are now."""
    from pipeline.pipeline import validation_key

    selection = data.selection
    wanted = set(selection.backfill)
    if selection.previous is not None:
        wanted.add(selection.previous)
    if not wanted:
        return []
    done = validated_spans(config, data, validation_key(config), wanted)
    return sorted(s for s in wanted if s not in done)


def run_backfill(config: Config, data: InputData, run_id: str, code_revision: dict,
                 spans: list[int], on_span: Callable[[BackfillResult], None]
                 ) -> list[BackfillResult]:
    """Runs the data part of the pipeline for each span, oldest first; stops at a failure."""
    from pipeline.mlmd import open_store, run_nodes
    from pipeline.pipeline import create_pipeline
    from pipeline.runner import ProgressRunner

    results = []
    for span in spans:
        span_run_id = backfill_run_id(run_id, span)
        started = time.monotonic()
        failure = None
        try:
            ProgressRunner(span_run_id).run(
                create_pipeline(config, data, code_revision, span=span, ingest_only=True))
        except Exception as error:  # reported by the caller with the span's gate table
            failure = error
            traceback.print_exc(file=sys.stderr)  # into the run's log
        nodes = run_nodes(open_store(config.metadata_path), config.pipeline.name, span_run_id)
        result = BackfillResult(span, span_run_id, time.monotonic() - started,
                                {n: r.state for n, r in nodes.items()}, failure)
        results.append(result)
        on_span(result)
        if failure is not None:
            break
    return results
