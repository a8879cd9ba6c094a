"""Backfill: ingest and validate the spans a run needs that ML Metadata has not validated yet.

TFX's ExampleGen ingests one span per execution, and a window of spans is resolved from earlier
executions. So before a run trains on spans 25-48, every one of them must have been ingested and
have passed the data gates, with its current files and under the current rules. Those that have
not are backfilled, oldest first:
1. ExampleGen alone, one pipeline run per span (`<run id>-span-<N>`), as many at a time as the
   run has slots (`pipeline.runner`: this process and its worker processes);
2. SpanValidation, one pipeline run for all of them (`<run id>-span-<first>-<last>`): their
   statistics in one Beam job, then each span's schema, drift and gate checks, in span order.
   Run span by span, the same checks cost three Beam pipelines of a few hundred rows each,
   about 4 s a span here: most of a cold run's time.
3. A span SpanValidation did not pass (and every span after it) goes through the data part of
   the pipeline on its own (ExampleGen -> StatisticsGen -> ExampleValidator -> DataDrift ->
   DataGate), which halts with the usual anomaly table. So does every span when there is no
   curated schema (SchemaGen then infers one per span).
A span whose files did not change is never ingested twice: its ExampleGen execution is found by
the input fingerprint TFX itself computes (file count, sizes and modification times).

The previous span of the target is validated too, so drift is always measured against it.
"""

from __future__ import annotations

import queue
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import Config
from pipeline.data import InputData
from pipeline.spans import has_span_spec

BACKFILL_MARK = "-span-"  # run id of a backfill run: <run id>-span-<N> or -span-<N>-<M>


@dataclass
class BackfillResult:
    span: int
    run_id: str
    seconds: float
    nodes: dict = field(default_factory=dict)  # node id -> pipeline.mlmd.NodeRecord
    failure: BaseException | None = None


def backfill_run_id(run_id: str, span: int, last: int | None = None) -> str:
    return f"{run_id}{BACKFILL_MARK}{span}" + (f"-{last}" if last is not None else "")


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


def _run_pipeline(config: Config, pipeline_run_id: str, pipeline, slots: Sequence[Any]
                  ) -> tuple[dict, float, BaseException | None]:
    """Runs `pipeline` as run `pipeline_run_id` on `slots` (`pipeline.runner`): its nodes as ML
    Metadata recorded them, the seconds it took, and its failure (logged, for the caller to
    report) if any."""
    from pipeline.mlmd import open_store, run_nodes
    from pipeline.runner import ProgressRunner

    started = time.monotonic()
    failure = None
    try:
        ProgressRunner(pipeline_run_id, slots=slots).run(pipeline)
    except Exception as error:
        failure = error
        traceback.print_exc(file=sys.stderr)  # into the run's log
    try:
        nodes = run_nodes(open_store(config.metadata_path), config.pipeline.name,
                          pipeline_run_id)
    except (KeyError, FileNotFoundError):  # it failed before recording anything
        nodes = {}
    return nodes, time.monotonic() - started, failure


def run_backfill(config: Config, data: InputData, run_id: str, code_revision: dict,
                 spans: list[int], on_span: Callable[[BackfillResult], None],
                 slots: Sequence[Any]) -> list[BackfillResult]:
    """Runs the data part of the pipeline for each span, oldest first; stops at a failure."""
    from pipeline.pipeline import create_pipeline

    results = []
    for span in spans:
        span_run_id = backfill_run_id(run_id, span)
        nodes, seconds, failure = _run_pipeline(
            config, span_run_id,
            create_pipeline(config, data, code_revision, span=span, ingest_only=True), slots)
        result = BackfillResult(span, span_run_id, seconds, nodes, failure)
        results.append(result)
        on_span(result)
        if result.failure is not None:
            break
    return results


def following_spans(spans: list[int], available: list[int]) -> list[int]:
    """The leading spans of `spans` with no available span between two of them: within those,
    the drift baseline of each span is the span before it."""
    chain = spans[:1]
    for span in spans[1:]:
        if any(chain[-1] < s < span for s in available):
            break
        chain.append(span)
    return chain


@dataclass
class BatchOutcome:
    validated: list[int] = field(default_factory=list)  # spans SpanValidation passed, in order
    drift: list[dict] = field(default_factory=list)     # their drift rows
    seconds: float = 0.0


def _ingest(config: Config, data: InputData, run_id: str, spans: list[int],
            slots: Sequence[Any], line: Callable[[str], None]) -> dict[int, int]:
    """ExampleGen for each span, one pipeline run per slot at a time: {span: Examples id} of
    the leading spans that were ingested, each with a line in span order."""
    from pipeline.pipeline import EXAMPLE_GEN_ID, ingest_pipeline

    free: queue.SimpleQueue = queue.SimpleQueue()
    for slot in slots:
        free.put(slot)

    def ingest(span: int) -> tuple[dict, float, BaseException | None]:
        slot = free.get()
        try:
            return _run_pipeline(config, backfill_run_id(run_id, span),
                                 ingest_pipeline(config, data, span), [slot])
        finally:
            free.put(slot)

    ids: dict[int, int] = {}
    pool = futures.ThreadPoolExecutor(len(slots), "ingest")
    try:
        for span, (nodes, seconds, _) in zip(spans, pool.map(ingest, spans), strict=True):
            record = nodes.get(EXAMPLE_GEN_ID)
            examples = record.outputs.get("examples") if record else None
            if not examples:
                break
            ids[span] = examples[0].id
            line(f"  span {span:<6} {'ingested':<10} {seconds:7.1f} s")
    finally:
        pool.shutdown(cancel_futures=True)
    return ids


def run_batch_backfill(config: Config, data: InputData, run_id: str, spans: list[int],
                       line: Callable[[str], None], slots: Sequence[Any]) -> BatchOutcome:
    """ExampleGen per span (as many at a time as there are slots), then SpanValidation of them
    all; says which spans passed.

    Anything that goes wrong here (a span that fails, an ingest or validation error) is left to
    the per-span backfill that follows, which reports it in full.
    """
    from pipeline.mlmd import custom_property
    from pipeline.pipeline import SPAN_VALIDATION_ID, validation_pipeline
    from pipeline.spans import format_ranges
    from pipeline.summary import read_drift_report

    outcome = BatchOutcome()
    started = time.monotonic()
    ids = _ingest(config, data, run_id, following_spans(spans, data.selection.available),
                  slots, line)
    outcome.seconds += time.monotonic() - started
    if not ids:
        return outcome

    first, last = min(ids), max(ids)
    nodes, seconds, _ = _run_pipeline(config, backfill_run_id(run_id, first, last),
                                      validation_pipeline(config, list(ids.values()), first),
                                      slots)
    outcome.seconds += seconds
    record = nodes.get(SPAN_VALIDATION_ID)
    outputs = record.outputs if record and record.state in ("COMPLETE", "CACHED") else {}
    reports = {custom_property(r, "span"): r for r in outputs.get("report", [])}
    for result in sorted(outputs.get("result", []), key=lambda r: custom_property(r, "span")):
        span = custom_property(result, "span")
        if custom_property(result, "passed") != 1:
            break
        outcome.validated.append(span)
        if span in reports:
            outcome.drift += read_drift_report(reports[span].uri).get("drift", [])
    checked = format_ranges(sorted(ids))
    if outcome.validated == sorted(ids):
        line(f"  span {checked:<6} {'validated':<10} {seconds:7.1f} s  (one SpanValidation job)")
    elif not outputs:
        line(f"  span {checked:<6} SpanValidation failed after {seconds:.1f} s (see the run's "
             "log); the spans are checked one by one")
    else:
        passed = format_ranges(outcome.validated) if outcome.validated else "none"
        line(f"  span {checked:<6} validated {passed} in {seconds:.1f} s; the next span is "
             "checked on its own")
    return outcome


@dataclass
class BackfillOutcome:
    """What a run's backfill did: the spans ingested, their drift rows, and a halt if any."""

    spans: list[int] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    seconds: float = 0.0               # wall time of the backfill runs
    halt: str | None = None            # "data" (validation failed) or "error"
    summary: dict | None = None        # the halted span's summary, for the run's summary.json


def backfill_for_run(config: Config, data: InputData, run_id: str, code_revision: dict,
                     line: Callable[[str], None], slots: Sequence[Any]) -> BackfillOutcome:
    """Backfills what the run needs on `slots` (`pipeline.runner`), printing a line per span;
    says whether to halt.

    A span of the window that fails validation halts the run. The previous span alone (with a
    window of one span) does not: drift is then measured against the newest valid span before.
    """
    from components.data_gate import DataValidationError
    from pipeline.runner import caused_by
    from pipeline.spans import format_ranges as _ranges
    from pipeline.summary import build_summary, read_drift_report

    outcome = BackfillOutcome(spans=spans_to_ingest(config, data))
    if not outcome.spans:
        return outcome
    remaining = outcome.spans
    if config.schema.path:
        line(f"backfill: ingesting and validating span(s) {_ranges(outcome.spans)} first "
             "(ExampleGen per span, then SpanValidation of them all)")
        batch = run_batch_backfill(config, data, run_id, outcome.spans, line, slots)
        outcome.seconds += batch.seconds
        outcome.drift += batch.drift
        remaining = [s for s in outcome.spans if s not in batch.validated]
    else:
        line(f"backfill: ingesting and validating span(s) {_ranges(outcome.spans)} first "
             "(ExampleGen -> DataGate, one run each)")

    def on_span(result: BackfillResult) -> None:
        state = "validated" if result.failure is None else "FAILED"
        line(f"  span {result.span:<6} {state:<10} {result.seconds:7.1f} s")

    for result in run_backfill(config, data, run_id, code_revision, remaining, on_span, slots):
        outcome.seconds += result.seconds
        nodes = result.nodes
        report = nodes.get("DataDrift")
        if report and report.outputs.get("report"):
            outcome.drift += read_drift_report(report.outputs["report"][0].uri).get("drift", [])
        if result.failure is None:
            continue
        invalid = caused_by(result.failure, DataValidationError)
        if invalid and result.span not in data.selection.window:
            line(f"  span {result.span} (the previous span, baseline of drift) fails "
                 "validation: drift is measured against the newest valid span before it")
            continue
        summary = build_summary(config, run_id, nodes)
        summary.update(spans=[s.as_dict() for s in data.spans], drift=outcome.drift,
                       data_files=[f.as_dict() for f in data.files], halted_span=result.span,
                       backfill_run_id=result.run_id, backfilled_spans=outcome.spans)
        outcome.summary = summary
        if invalid:
            outcome.halt = "data"
            line(f"span {result.span} of the window fails validation: fix its files (a "
                 "corrected file is ingested again) or leave it out of the window "
                 "(--span, --window)")
        else:
            outcome.halt = "error"
            failed = next((n for n, r in nodes.items() if r.state == "FAILED"),
                          "the backfill")
            text = str(result.failure).strip().splitlines()
            summary["error"] = (f"{failed} failed on span {result.span}: "
                                f"{type(result.failure).__name__}: {text[-1] if text else ''}"
                                )[:300]
        break
    return outcome
