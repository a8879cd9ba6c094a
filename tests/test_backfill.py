"""The batch backfill's ingest (`Backfill._ingest`): a span whose run left no Examples ends the
fast path with one line that names the span and why, and the spans before it are kept. The
pipeline runs are stand-ins (no TFX run): what ML Metadata would have recorded of each. And a
span's run given a worker slot whose process was killed, or could not be started, fails saying
so."""

from __future__ import annotations

import errno
import multiprocessing.context
import os
import signal
import threading
from types import SimpleNamespace

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline

from pipeline.dag import nodes
from pipeline.orchestration import backfill
from pipeline.orchestration.backfill import Backfill, PipelineRun
from pipeline.orchestration.runner import ProgressRunner
from pipeline.orchestration.workers import WorkerError, node_workers
from pipeline.records.mlmd import NodeRecord
from tests.fixtures.runner_components import Stamp

RUN_ID = "20261201T000000000000Z"


def _ingested(span: int) -> PipelineRun:
    examples = metadata_store_pb2.Artifact(id=100 + span)
    record = NodeRecord(nodes.EXAMPLE_GEN, "COMPLETE", 10 + span, 1.0, {"examples": [examples]})
    return PipelineRun(f"{RUN_ID}-span-{span}", {nodes.EXAMPLE_GEN: record}, 1.0)


def _ingest(tmp_path, monkeypatch, runs: dict[int, PipelineRun]) -> tuple[dict, list[str]]:
    """`_ingest` of spans 3-6 on two slots, each span's run being `runs[span]` (else ingested);
    its ids and its lines."""
    pipelines = SimpleNamespace(ingest=lambda span: span,
                                config=SimpleNamespace(runs_dir=tmp_path / "runs"))
    monkeypatch.setattr(backfill, "run_pipeline",
                        lambda _pipelines, _run_id, span, _runner: runs.get(span, _ingested(span)))
    lines: list[str] = []
    ids = Backfill(pipelines, RUN_ID, [object(), object()], lines.append)._ingest([3, 4, 5, 6])
    return ids, lines


_DIED = WorkerError("the worker process ended unexpectedly while starting (killed by SIGKILL); "
                    "see the run's log")


@pytest.mark.parametrize("run, cause", [
    (PipelineRun(f"{RUN_ID}-span-5", {}, 2.0, _DIED),
     "WorkerError: the worker process ended unexpectedly while starting (killed by SIGKILL)"),
    (PipelineRun(f"{RUN_ID}-span-5", {}, 2.0),
     "the run ended without an ExampleGen output"),
    (PipelineRun(f"{RUN_ID}-span-5", {nodes.EXAMPLE_GEN: NodeRecord(
        nodes.EXAMPLE_GEN, "COMPLETE", 15, 1.0, {})}, 2.0),
     "the run ended without an ExampleGen output"),
], ids=["worker-died", "no-execution", "no-output"])
def test_a_span_not_ingested_ends_the_batch_with_a_line_naming_it_and_why(
        tmp_path, monkeypatch, run, cause):
    ids, lines = _ingest(tmp_path, monkeypatch, {5: run})
    assert ids == {3: 103, 4: 104}  # span 6, ingested or not, waits for the per-span backfill
    assert [line.split()[:3] for line in lines[:2]] == [["span", "3", "ingested"],
                                                        ["span", "4", "ingested"]]
    [line] = lines[2:]
    assert line.startswith("  span 5 ") and cause in line, line
    assert "one at a time" in line, line


def test_a_worker_that_died_of_a_full_disk_is_named_from_the_run_log(tmp_path, monkeypatch):
    # As a halted span's error is: the worker's last words are in the run's log.
    log = tmp_path / "runs" / RUN_ID / "run.log"
    log.parent.mkdir(parents=True)
    log.write_text("OSError: [Errno 28] No space left on device: '/out/span-3/examples'\n")
    ids, [line] = _ingest(tmp_path, monkeypatch,
                          {3: PipelineRun(f"{RUN_ID}-span-3", {}, 2.0, _DIED)})
    assert ids == {}
    assert line.startswith("  span 3 ") and "the disk is full (OSError: [Errno 28]" in line, line


def test_every_span_ingested_is_a_line_each_and_no_other(tmp_path, monkeypatch):
    ids, lines = _ingest(tmp_path, monkeypatch, {})
    assert ids == {3: 103, 4: 104, 5: 105, 6: 106}
    assert [line.split()[1:3] for line in lines] == [[str(s), "ingested"] for s in (3, 4, 5, 6)]



def _stamp_run(tmp_path) -> tuple[SimpleNamespace, Pipeline]:
    """The Pipelines `run_pipeline` needs, and a one-node pipeline of a Stamp."""
    store = tmp_path / "metadata.sqlite"
    pipeline = Pipeline(pipeline_name="backfill_test", pipeline_root=str(tmp_path / "root"),
                        components=[Stamp("A", seconds=0.0).with_id("A")],
                        metadata_connection_config=metadata.sqlite_metadata_connection_config(
                            str(store)))
    pipelines = SimpleNamespace(config=SimpleNamespace(
        metadata_path=store, pipeline=SimpleNamespace(name="backfill_test")))
    return pipelines, pipeline


def test_a_worker_killed_while_it_starts_is_the_failure_of_the_run_it_was_given(tmp_path):
    # Given the worker slot, a span's run fails with the worker's end: no node ran, and the
    # failure says how the worker ended (its last words, if any, are in the run's log).
    pipelines, pipeline = _stamp_run(tmp_path)
    with node_workers(1, start_now=True) as [worker]:
        os.kill(worker.pid, signal.SIGKILL)
        run = backfill.run_pipeline(pipelines, "run-1", pipeline, ProgressRunner([worker]))
    assert run.nodes == {}
    assert isinstance(run.failure, WorkerError)
    assert "while starting (killed by SIGKILL)" in str(run.failure), run.failure


def test_a_worker_that_cannot_be_started_fails_each_run_given_it(tmp_path, monkeypatch):
    # The system refuses a new process (too many of them, say): each span's run given the slot
    # fails saying so; none waits for a worker that was never started.
    def refused(_process):
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refused)
    pipelines, pipeline = _stamp_run(tmp_path)
    runs: list[PipelineRun] = []
    with node_workers(1) as [worker]:
        def two_runs() -> None:
            for n in (1, 2):
                runs.append(backfill.run_pipeline(pipelines, f"run-{n}", pipeline,
                                                  ProgressRunner([worker])))

        thread = threading.Thread(target=two_runs, daemon=True)
        thread.start()
        thread.join(timeout=60)
    assert len(runs) == 2, "the second run waited for the worker"
    for run in runs:
        assert isinstance(run.failure, WorkerError)
        assert str(run.failure) == ("the worker process could not be started: "
                                    f"[Errno {errno.EAGAIN}] {os.strerror(errno.EAGAIN)}")
