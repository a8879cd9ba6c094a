"""Backfill: ingest and validate the spans a run needs that ML Metadata has not validated yet.

TFX's ExampleGen ingests one span per execution, and a window of spans is resolved from earlier
executions. So before a run trains on spans 25-48, every one of them must have been ingested and
have passed the data gates, with its current files and under the current rules. Those that have
not are backfilled, oldest first:
1. ExampleGen alone, one pipeline run per span (`<run id>-span-<N>`), as many at a time as the
   run has slots (`runner.py`: this process and its worker processes);
2. SpanValidation, one pipeline run for all of them (`<run id>-span-<first>-<last>`): their
   statistics in one Beam job, then each span's schema, drift and gate checks, in span order.
   Run span by span, the same checks cost three Beam pipelines of a few hundred rows each: most
   of a cold run's time (docs/performance.md).
3. A span SpanValidation did not pass (and every span after it) goes through the data part of
   the pipeline on its own (ExampleGen -> StatisticsGen -> ExampleValidator -> DataDrift ->
   DataGate), which halts with the usual anomaly table. So does every span when there is no
   curated schema (SchemaGen then infers one per span).
A span whose files did not change is never ingested twice: its ExampleGen execution is found by
its input fingerprint (TFX's: file count, sizes and modification times; and the files' SHA-256,
components/csv_example_gen/fingerprint.py).

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

from components.data_gate import DataValidationError
from components.shared.artifacts import DataValidationResult
from pipeline.dag import nodes
from pipeline.dag.example_gen import input_split, range_config
from pipeline.dag.pipelines import Pipelines
from pipeline.inputs.prepare import InputData
from pipeline.inputs.spans import format_ranges
from pipeline.orchestration.runner import ProgressRunner, Slot, caused_by
from pipeline.orchestration.workers import died_in
from pipeline.records.mlmd import NodeRecord, custom_property, open_store, run_nodes
from pipeline.records.outcomes import one_line
from pipeline.records.runs import backfill_run_id
from pipeline.records.summary import build_summary, read_drift_report


@dataclass
class PipelineRun:
    """A pipeline run as ML Metadata recorded it: its nodes, its wall time, its failure."""

    run_id: str
    nodes: dict[str, NodeRecord]
    seconds: float
    failure: BaseException | None = None


def run_pipeline(pipelines: Pipelines, pipeline_run_id: str, pipeline: Any,
                 runner: ProgressRunner) -> PipelineRun:
    """Runs `pipeline` as run `pipeline_run_id`; its failure is logged, for the caller to
    report."""
    started = time.monotonic()
    failure = None
    try:
        runner.run(pipeline, pipeline_run_id)
    except Exception as error:
        failure = error
        traceback.print_exc(file=sys.stderr)  # into the run's log
    try:
        recorded = run_nodes(open_store(pipelines.config.metadata_path),
                             pipelines.config.pipeline.name, pipeline_run_id)
    except (KeyError, FileNotFoundError):  # it failed before recording anything
        recorded = {}
    return PipelineRun(pipeline_run_id, recorded, time.monotonic() - started, failure)


def current_fingerprint(data: InputData, span: int) -> str:
    """ExampleGen's input fingerprint of a span's files, computed by its driver's function
    (with the digests the pre-flight took of the window's files)."""
    from components.csv_example_gen.fingerprint import fingerprint_span_and_version

    fingerprint, _, _ = fingerprint_span_and_version(
        data.input_base, [input_split(data.pattern)], range_config(data.pattern, span),
        {f.path: f.sha256 for f in data.files})
    return fingerprint


def validated_spans(pipelines: Pipelines, spans: set[int]) -> dict[int, int]:
    """{span: Examples id} of those `spans` whose current files passed a data gate under the
    current validation key."""
    config, data = pipelines.config, pipelines.data
    if not config.metadata_path.is_file():
        return {}
    store = open_store(config.metadata_path)
    results = [r for r in store.get_artifacts_by_type(DataValidationResult.TYPE_NAME)
               if custom_property(r, "passed") == 1
               and custom_property(r, "validation_key") == pipelines.validation_key
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


def spans_to_ingest(pipelines: Pipelines) -> list[int]:
    """Spans of the window, and the target's previous span, not validated as they are now."""
    selection = pipelines.data.selection
    wanted = set(selection.backfill)
    if selection.previous is not None:
        wanted.add(selection.previous)
    if not wanted:
        return []
    done = validated_spans(pipelines, wanted)
    return sorted(s for s in wanted if s not in done)


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
class BackfillOutcome:
    """What a run's backfill did: the spans ingested, their drift rows, and a halt if any."""

    spans: list[int] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    seconds: float = 0.0               # wall time of the backfill runs
    validated: list[int] = field(default_factory=list)  # spans the batch passed, in order
    halt: str | None = None            # "data" (validation failed) or "error"
    summary: dict | None = None        # the halted span's summary, for the run's summary.json


class Backfill:
    """One run's backfill: its pipelines, its run id, its slots and where its lines go."""

    def __init__(self, pipelines: Pipelines, run_id: str, slots: Sequence[Slot],
                 line: Callable[[str], None]):
        self.pipelines = pipelines
        self.run_id = run_id
        self.slots = list(slots)
        self.line = line

    def run(self) -> BackfillOutcome:
        """Backfills what the run needs, a line per span; says whether to halt.

        A span of the window that fails validation halts the run. The previous span alone
        (with a window of one span) does not: drift is then measured against the newest valid
        span before it.
        """
        outcome = BackfillOutcome(spans=spans_to_ingest(self.pipelines))
        if not outcome.spans:
            return outcome
        remaining = outcome.spans
        if self.pipelines.config.schema.path:
            self.line(f"backfill: ingesting and validating span(s) {format_ranges(remaining)} "
                      "first (ExampleGen per span, then SpanValidation of them all)")
            self._batch(outcome)
            remaining = [s for s in outcome.spans if s not in outcome.validated]
        else:
            self.line(f"backfill: ingesting and validating span(s) {format_ranges(remaining)} "
                      "first (ExampleGen -> DataGate, one run each)")
        for span in remaining:
            if not self._span_on_its_own(span, outcome):
                break
        return outcome

    # -- the batch: ExampleGen per span, then one SpanValidation ------------------------------

    def _batch(self, outcome: BackfillOutcome) -> None:
        """ExampleGen per span (as many at a time as there are slots), then SpanValidation of
        them all; records which spans passed.

        Anything that goes wrong here (a span that fails, an ingest or validation error) is left
        to the per-span backfill that follows, which reports it in full.
        """
        started = time.monotonic()
        ids = self._ingest(following_spans(outcome.spans,
                                           self.pipelines.data.selection.available))
        outcome.seconds += time.monotonic() - started
        if not ids:
            return
        first, last = min(ids), max(ids)
        validation = run_pipeline(
            self.pipelines, backfill_run_id(self.run_id, first, last),
            self.pipelines.validate_spans(list(ids.values()), first), ProgressRunner(self.slots))
        outcome.seconds += validation.seconds
        record = validation.nodes.get(nodes.SPAN_VALIDATION)
        outputs = record.outputs if record and record.state in ("COMPLETE", "CACHED") else {}
        reports = {custom_property(r, "span"): r for r in outputs.get("report", [])}
        for result in sorted(outputs.get("result", []), key=lambda r: custom_property(r, "span")):
            span = custom_property(result, "span")
            if custom_property(result, "passed") != 1:
                break
            outcome.validated.append(span)
            if span in reports:
                outcome.drift += read_drift_report(reports[span].uri).get("drift", [])
        self._batch_line(sorted(ids), outcome.validated, bool(outputs), validation.seconds)

    def _batch_line(self, checked: list[int], passed: list[int], ran: bool,
                    seconds: float) -> None:
        spans = format_ranges(checked)
        if passed == checked:
            self.line(f"  span {spans:<6} {'validated':<10} {seconds:7.1f} s  "
                      "(one SpanValidation job)")
        elif not ran:
            self.line(f"  span {spans:<6} SpanValidation failed after {seconds:.1f} s (see the "
                      "run's log); the spans are checked one by one")
        else:
            self.line(f"  span {spans:<6} validated {format_ranges(passed) or 'none'} in "
                      f"{seconds:.1f} s; the next span is checked on its own")

    def _ingest(self, spans: list[int]) -> dict[int, int]:
        """ExampleGen for each span, one pipeline run per slot at a time: {span: Examples id} of
        the leading spans that were ingested, each with a line in span order."""
        free: queue.SimpleQueue = queue.SimpleQueue()
        for slot in self.slots:
            free.put(slot)

        def ingest(span: int) -> PipelineRun:
            slot = free.get()
            try:
                return run_pipeline(self.pipelines, backfill_run_id(self.run_id, span),
                                    self.pipelines.ingest(span), ProgressRunner([slot]))
            finally:
                free.put(slot)

        ids: dict[int, int] = {}
        pool = futures.ThreadPoolExecutor(len(self.slots), "ingest")
        try:
            for span, ingested in zip(spans, pool.map(ingest, spans), strict=True):
                record = ingested.nodes.get(nodes.EXAMPLE_GEN)
                examples = record.outputs.get("examples") if record else None
                if not examples:
                    self._not_ingested(span, ingested)
                    break
                ids[span] = examples[0].id
                self.line(f"  span {span:<6} {'ingested':<10} {ingested.seconds:7.1f} s")
        finally:
            pool.shutdown(cancel_futures=True)
        return ids

    def _not_ingested(self, span: int, ingested: PipelineRun) -> None:
        """The line of a span whose ingest left no Examples: why, and what happens instead."""
        cause = (self._one_line(ingested.failure) if ingested.failure is not None
                 else "the run ended without an ExampleGen output")
        self.line(f"  span {span:<6} not ingested: {cause}; span {span} and the spans after it "
                  "are ingested and validated one at a time")

    def _one_line(self, failure: BaseException) -> str:
        """`failure` in one line, with the cause a worker process that died of it left in the
        run's log."""
        log_path = self.pipelines.config.runs_dir / self.run_id / "run.log"
        return one_line(failure, died_in(failure, log_path))

    # -- a span on its own: the data part of the pipeline ---------------------------------------

    def _span_on_its_own(self, span: int, outcome: BackfillOutcome) -> bool:
        """Runs the data part for `span`; False when the backfill must stop there."""
        result = run_pipeline(self.pipelines, backfill_run_id(self.run_id, span),
                              self.pipelines.data_part(span), ProgressRunner(self.slots))
        state = "validated" if result.failure is None else "FAILED"
        self.line(f"  span {span:<6} {state:<10} {result.seconds:7.1f} s")
        outcome.seconds += result.seconds
        report = result.nodes.get(nodes.DATA_DRIFT)
        if report and report.outputs.get("report"):
            outcome.drift += read_drift_report(report.outputs["report"][0].uri).get("drift", [])
        if result.failure is None:
            return True
        invalid = caused_by(result.failure, DataValidationError)
        if invalid and span not in self.pipelines.data.selection.window:
            self.line(f"  span {span} (the previous span, baseline of drift) fails validation: "
                      "drift is measured against the newest valid span before it")
            return True
        self._halt(span, result, outcome, invalid)
        return False

    def _halt(self, span: int, result: PipelineRun, outcome: BackfillOutcome,
              invalid: bool) -> None:
        data = self.pipelines.data
        summary = build_summary(self.pipelines.config, self.run_id, result.nodes)
        summary.update(spans=[s.as_dict() for s in data.spans], drift=outcome.drift,
                       data_files=[f.as_dict() for f in data.files], halted_span=span,
                       backfill_run_id=result.run_id, backfilled_spans=outcome.spans)
        outcome.summary = summary
        if invalid:
            outcome.halt = "data"
            self.line(f"span {span} of the window fails validation: fix its files (a corrected "
                      "file is ingested again) or leave it out of the window (--span, --window)")
            return
        outcome.halt = "error"
        failed = next((n for n, r in result.nodes.items() if r.state == "FAILED"),
                      "the backfill")
        summary["error"] = f"{failed} failed on span {span}: {self._one_line(result.failure)}"
