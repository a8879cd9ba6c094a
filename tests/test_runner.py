"""The runner: independent nodes side by side in this process and a worker process, dependent
nodes after their upstream nodes, a failure in the worker raised here with its own type."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline

from pipeline.orchestration.executor_exits import ExecutorExited
from pipeline.orchestration.runner import InProcess, ProgressRunner, local_slots
from pipeline.orchestration.workers import WorkerError, node_workers
from tests.fixtures.cli import states_of_run
from tests.fixtures.runner_components import ExpectedFailure, Stamp


def _pipeline(root: Path, fail_b: int = 0, cache: bool = False, meet: bool = False,
              seconds: float = 1.5) -> Pipeline:
    """A and B independent, C after both. `meet`: A and B wait for each other before they
    sleep. `seconds`: how long A sleeps."""
    folder = str(root / "meet") if meet else ""
    a = Stamp("A", seconds=seconds, meet=folder).with_id("A")
    b = Stamp("B", fail=fail_b, meet=folder).with_id("B")
    c = Stamp("C", seconds=0.0, after=a.outputs["stamp"]).with_id("C")
    c.add_upstream_node(b)
    return Pipeline(
        pipeline_name="runner_test", pipeline_root=str(root / "root"), components=[a, b, c],
        enable_cache=cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


def _stamps(root: Path) -> dict[str, dict]:
    return {path.parts[-4]: json.loads(path.read_text())
            for path in (root / "root").glob("*/stamp/*/value")}


@pytest.fixture(scope="module")
def worker():
    with node_workers(1) as workers:
        workers[0].wait_until_ready()
        yield workers[0]


def test_independent_nodes_run_side_by_side_in_two_processes(tmp_path, worker):
    finished = []
    results = ProgressRunner(local_slots([worker]), on_finish=finished.append).run(
        _pipeline(tmp_path, meet=True), "run-1")
    assert {r.node_id: r.state for r in results} == {"A": "COMPLETE", "B": "COMPLETE",
                                                    "C": "COMPLETE"}
    assert [r.node_id for r in finished] == [r.node_id for r in results]
    assert states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1") == {
        "A": "COMPLETE", "B": "COMPLETE", "C": "COMPLETE"}
    stamps = _stamps(tmp_path)
    a, b, c = stamps["A"], stamps["B"], stamps["C"]
    # A and B met (each waited in its executor until the other had started: run one after the
    # other, the first would have waited in vain), one in this process and one in the worker;
    # C starts after both ended.
    assert a["met"] and b["met"]
    assert a["started"] < b["ended"] and b["started"] < a["ended"]
    assert {a["pid"], b["pid"]} == {os.getpid(), worker.pid}
    assert c["started"] >= max(a["ended"], b["ended"])
    assert results[-1].node_id == "C"


def test_one_slot_runs_one_node_at_a_time(tmp_path):
    ProgressRunner().run(_pipeline(tmp_path), "run-1")
    stamps = _stamps(tmp_path)
    first, second = sorted((stamps["A"], stamps["B"]), key=lambda s: s["started"])
    assert second["started"] >= first["ended"]
    assert {s["pid"] for s in stamps.values()} == {os.getpid()}


def test_a_failure_in_the_worker_is_raised_here_and_stops_what_depends_on_it(tmp_path, worker):
    finished = []
    with pytest.raises(ExpectedFailure, match="B was told to fail"):
        ProgressRunner(local_slots([worker]), on_finish=finished.append).run(
            _pipeline(tmp_path, fail_b=1), "run-1")
    states = states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1")
    assert states == {"A": "COMPLETE", "B": "FAILED"}, states  # C never started
    assert {r.node_id: r.state for r in finished} == {"A": "COMPLETE", "B": "FAILED"}
    # The worker is still usable after a failed node.
    results = ProgressRunner(local_slots([worker])).run(_pipeline(tmp_path), "run-2")
    assert [r.state for r in results] == ["COMPLETE"] * 3


def test_a_run_given_only_a_worker_that_is_still_starting_waits_for_it(tmp_path):
    with node_workers(1) as [starting]:
        results = ProgressRunner(slots=[starting]).run(_pipeline(tmp_path), "run-1")
        pid = starting.pid
    assert [r.state for r in results] == ["COMPLETE"] * 3
    assert {s["pid"] for s in _stamps(tmp_path).values()} == {pid}


def test_a_worker_that_dies_is_an_error_that_says_so(tmp_path):
    with node_workers(1) as [worker]:
        worker.wait_until_ready()  # else B would run in this process, and end it
        with pytest.raises(WorkerError, match=r"while running B \(exit code 3\)"):
            ProgressRunner(local_slots([worker])).run(_pipeline(tmp_path, fail_b=2), "run-1")
    states = states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1")
    assert states["A"] == "COMPLETE" and "C" not in states, states


def test_a_worker_that_dies_while_starting_fails_the_run_after_the_running_node_ends(
        tmp_path):
    """Raised at once, it left the node running in this process's thread RUNNING in ML
    Metadata: the run ended, its summary written, with a component still at work."""
    with node_workers(1, start_now=True) as [starting]:
        timer = threading.Timer(0.5, os.kill, (starting.pid, signal.SIGKILL))
        timer.start()  # long before its TensorFlow and TFX imports end; A runs here meanwhile
        with pytest.raises(WorkerError, match=r"while starting \(killed by SIGKILL\)"):
            ProgressRunner(local_slots([starting])).run(_pipeline(tmp_path, seconds=3.0),
                                                        "run-1")
        timer.join()
    states = states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1")
    assert states == {"A": "COMPLETE"}, states  # B and C not started after the worker died


@pytest.mark.parametrize("slots", ["this process", "this process and a worker"])
def test_a_component_that_calls_sys_exit_fails_as_that_component(tmp_path, worker, slots):
    """TFX's launcher records only an Exception as a failure: sys.exit in an executor left the
    execution RUNNING and ended the whole run without saying where (executor_exits.py)."""
    chosen = local_slots([worker]) if slots == "this process and a worker" else local_slots()
    with pytest.raises(ExecutorExited, match=r"^B's code called sys.exit\(5\)"):
        ProgressRunner(chosen).run(_pipeline(tmp_path, fail_b=3), "run-1")
    states = states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1")
    assert states == {"A": "COMPLETE", "B": "FAILED"}, states


def test_a_node_whose_state_cannot_be_read_back_fails_the_run_and_does_not_hang_it(
        tmp_path, monkeypatch):
    """ML Metadata unreadable after a node ran (a locked or lost database): the run ends with
    that error and the node FAILED; the nodes after it do not run. (The reading was once outside
    the node thread's error handling: the thread died, and the run waited for it for ever.)"""
    import sqlite3
    import threading

    from pipeline.orchestration import runner as runner_module

    real = runner_module._state_name

    def unreadable(handle, execution_id):
        if not unreadable.raised:
            unreadable.raised = True
            raise sqlite3.OperationalError("database is locked")
        return real(handle, execution_id)

    unreadable.raised = False
    monkeypatch.setattr(runner_module, "_state_name", unreadable)
    finished, outcome = [], []

    def run() -> None:
        try:
            ProgressRunner(on_finish=finished.append).run(_pipeline(tmp_path), "run-1")
        except BaseException as error:  # noqa: BLE001 - asserted below
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the run hung"
    assert len(outcome) == 1 and isinstance(outcome[0], sqlite3.OperationalError), outcome
    assert [(r.node_id, r.state) for r in finished] == [(finished[0].node_id, "FAILED")]
    assert "C" not in states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1")


class _ReadyOnSecondLook(InProcess):
    """A worker that finishes starting while the runner looks at its slots: not ready at the
    first look, ready at every one after."""

    def __init__(self):
        self.looks = 0

    def ready(self) -> bool:
        self.looks += 1
        return self.looks > 1


def test_a_worker_that_finishes_starting_while_the_runner_looks_runs_the_nodes(tmp_path):
    # The runner once looked twice, and ended a run given only this slot with no node run and
    # no error: a backfill span ingested in the worker left nothing in ML Metadata.
    results = ProgressRunner([_ReadyOnSecondLook()]).run(_pipeline(tmp_path), "run-1")
    assert [r.state for r in results] == ["COMPLETE"] * 3
    assert states_of_run(tmp_path / "metadata.sqlite", "runner_test", "run-1") == {
        "A": "COMPLETE", "B": "COMPLETE", "C": "COMPLETE"}


def test_the_worker_starts_after_real_work_and_not_for_a_run_served_from_cache(tmp_path):
    ProgressRunner().run(_pipeline(tmp_path, cache=True), "run-1")
    with node_workers(1) as [cached]:
        results = ProgressRunner(local_slots([cached])).run(
            _pipeline(tmp_path, cache=True), "run-2")
        assert [r.state for r in results] == ["CACHED"] * 3
        assert cached.pid is None
    with node_workers(1) as [needed]:
        ProgressRunner(local_slots([needed])).run(_pipeline(tmp_path), "run-3")
        assert needed.pid is not None


def test_workers_started_now_are_started_before_any_node_runs():
    # What `tfxpipe run` asks for on a new output root, where nothing can be served from cache.
    with node_workers(1, start_now=True) as [worker]:
        assert worker.pid is not None
        worker.wait_until_ready()
        assert worker.ready()
    with node_workers(1) as [lazy]:
        assert lazy.pid is None


def test_how_a_worker_ended_is_said_in_words():
    from pipeline.orchestration.workers import _how_it_ended

    assert _how_it_ended(3) == "exit code 3"
    assert _how_it_ended(-9) == "killed by SIGKILL"
    assert _how_it_ended(None) == "its connection closed, the process not ended 5 s later"
