"""A local TFX runner that reports each component as it starts and ends, and runs independent
components side by side in worker processes.

It launches the compiled pipeline IR's nodes as TFX's LocalDagRunner does (one
`launcher.Launcher` per node), with three differences:
- a run id chosen by the caller, so the run's log folder and ML Metadata agree;
- callbacks with each node's ML Metadata state (COMPLETE, CACHED, FAILED) and duration;
- a node starts as soon as every node upstream of it has ended and a slot is free: this
  process, or a worker process (`workers.py`). LocalDagRunner runs them one by
  one. After a failure no node starts; those already running finish, then the first failure
  is raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import compiler, constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher, runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2
from tfx.utils import telemetry_utils

from pipeline.orchestration import beam_patches, executor_exits, tfma_patches, tfma_sliced_metrics


class NodeFailedError(RuntimeError):
    """A node ended FAILED in ML Metadata without its launcher raising."""


def caused_by(error: BaseException | None, kind: type) -> bool:
    """Whether `error`, or an error in its chain of causes, is a `kind`."""
    while error is not None:
        if isinstance(error, kind):
            return True
        error = error.__cause__ or error.__context__
    return False


@dataclass
class NodeResult:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, SKIPPED
    seconds: float
    error: BaseException | None = None


class Slot(Protocol):
    def start(self) -> None: ...

    def ready(self) -> bool: ...

    def wait_until_ready(self) -> None: ...

    def launch(self, ir_bytes: bytes, node_id: str) -> int | None: ...


def _connection_config(ir: pipeline_pb2.Pipeline):
    deployment_config = runner_utils.extract_local_deployment_config(ir)
    config = deployment_config.metadata_connection_config
    return deployment_config, getattr(config, config.WhichOneof("connection_config"))


def launch_node(ir_bytes: bytes, node_id: str) -> int | None:
    """Launches node `node_id` of the compiled pipeline `ir_bytes` in this process; its
    execution id (None when TFX skipped it)."""
    beam_patches.install()
    executor_exits.install()
    tfma_patches.install()
    tfma_sliced_metrics.install()
    ir = pipeline_pb2.Pipeline.FromString(ir_bytes)
    deployment_config, connection_config = _connection_config(ir)
    [pipeline_node] = [node.pipeline_node for node in ir.nodes
                       if node.pipeline_node.node_info.id == node_id]
    node_launcher = launcher.Launcher(
        pipeline_node=pipeline_node,
        mlmd_connection=metadata.Metadata(connection_config),
        pipeline_info=ir.pipeline_info,
        pipeline_runtime_spec=ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id),
    )
    with telemetry_utils.scoped_labels({telemetry_utils.LABEL_TFX_RUNNER: "local"}):
        info = node_launcher.launch()
    return info.execution_id if info else None


class InProcess:
    """The slot of the runner's own process."""

    def start(self) -> None:
        pass

    def ready(self) -> bool:
        return True

    def wait_until_ready(self) -> None:
        pass

    def launch(self, ir_bytes: bytes, node_id: str) -> int | None:
        return launch_node(ir_bytes, node_id)


def local_slots(workers: Sequence[Slot] = ()) -> list[Slot]:
    """This process, then the worker processes."""
    return [InProcess(), *workers]


def _state_name(mlmd_handle: metadata.Metadata, execution_id: int | None) -> str:
    if execution_id is None:
        return "SKIPPED"
    [execution] = mlmd_handle.store.get_executions_by_id([execution_id])
    return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


class ProgressRunner:
    def __init__(self, slots: Sequence[Slot] | None = None,
                 on_start: Callable[[str], None] = lambda node_id: None,
                 on_finish: Callable[[NodeResult], None] = lambda result: None):
        """`slots`: where nodes run (default: this process only, one node at a time)."""
        self.slots: list[Slot] = list(slots) if slots else local_slots()
        self.on_start = on_start
        self.on_finish = on_finish

    def run(self, pipeline, run_id: str) -> list[NodeResult]:
        """Runs every node of `pipeline` as run `run_id`, each once its upstream nodes have
        ended; raises the first failure after reporting it. Results are in the order the nodes
        ended."""
        ir = compiler.Compiler().compile(pipeline)
        runtime_parameter_utils.substitute_runtime_parameter(
            ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
        run = _Run(self, ir)
        while run.step():
            pass
        failure = next((result.error for result in run.results if result.error is not None),
                       run.slot_failure)
        if failure is not None:
            raise failure
        return run.results


class _Run:
    """The state of one pipeline run: nodes waiting, slots free, nodes ended."""

    def __init__(self, runner: ProgressRunner, ir: pipeline_pb2.Pipeline):
        self.runner = runner
        _, self.connection_config = _connection_config(ir)
        self.ir_bytes = ir.SerializeToString()
        self.waiting = [node.pipeline_node for node in ir.nodes]  # topological order
        self.free = list(runner.slots)
        self.ended: set[str] = set()
        self.results: list[NodeResult] = []
        self.finished: queue.Queue[tuple[Slot, NodeResult]] = queue.Queue()
        self.running = 0
        self.slot_failure: BaseException | None = None  # a worker that died or never started

    def step(self) -> bool:
        """Starts what can start, then waits for a node to end; False when the run is over."""
        failed = self.slot_failure is not None or any(
            result.error is not None for result in self.results)
        # A worker still starting takes no node: this process may well be free first. Whether
        # a slot is ready is asked once: a worker that finished starting between two questions
        # would be neither usable nor starting, and the run would end with its nodes unrun.
        usable = [slot for slot in list(self.free) if self._ask(slot, slot.ready)]
        starting = [slot for slot in self.free if slot not in usable]
        for node in list(self.waiting):
            if failed or not usable:
                break
            if set(node.upstream_nodes) <= self.ended:
                self.waiting.remove(node)
                self._start(usable.pop(0), node.node_info.id)
        if not self.running:
            if failed or not self.waiting or not starting:
                return False
            self._ask(starting[0], starting[0].wait_until_ready)  # only starting slots left
            return True
        try:  # woken now and then, to give nodes to a worker that has finished starting
            slot, result = self.finished.get(timeout=0.5)
        except queue.Empty:
            return True
        self._ended(slot, result)
        return True

    def _start(self, slot: Slot, node_id: str) -> None:
        self.free.remove(slot)
        self.runner.on_start(node_id)
        self.running += 1
        # A daemon thread: Ctrl-C ends the run at once, as it did with one node at a time.
        threading.Thread(target=lambda: self.finished.put((slot, self._launch(slot, node_id))),
                         name=f"node-{node_id}", daemon=True).start()

    def _ended(self, slot: Slot, result: NodeResult) -> None:
        self.running -= 1
        self.free.append(slot)
        self.free.sort(key=self.runner.slots.index)
        self.ended.add(result.node_id)
        self.results.append(result)
        self.runner.on_finish(result)
        if result.state == "COMPLETE":  # real work, not a run served from cache
            for other in list(self.free):
                self._ask(other, other.start)

    def _ask(self, slot: Slot, question: Callable[[], object]) -> bool:
        """`question()` of a free slot, False when it raised: a worker that died while
        starting, or could not be started. That slot is dropped and no node starts after it;
        the nodes already running end (raised at once, a node running in this process's
        thread would be left RUNNING in ML Metadata), then `run` raises its error."""
        try:
            return bool(question())
        except Exception as error:  # noqa: BLE001 - raised by run() once the running nodes end
            self.free.remove(slot)
            self.slot_failure = self.slot_failure or error
            return False

    def _launch(self, slot: Slot, node_id: str) -> NodeResult:
        started = time.monotonic()
        try:  # the state read back too: a thread that raised would leave the run waiting
            execution_id = slot.launch(self.ir_bytes, node_id)
            with metadata.Metadata(self.connection_config) as handle:
                state = _state_name(handle, execution_id)
        except BaseException as error:  # noqa: BLE001 - reported, then raised by run()
            return NodeResult(node_id, "FAILED", time.monotonic() - started, error)
        result = NodeResult(node_id, state, time.monotonic() - started)
        if state == "FAILED":
            # A node can fail without raising (e.g. its inputs could not be resolved): the
            # nodes after it must not run, and the caller must know.
            result.error = NodeFailedError(
                f"{node_id} failed (its inputs could not be resolved or its executor failed; "
                "see the log)")
        return result
