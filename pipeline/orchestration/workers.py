"""Worker processes that launch pipeline nodes, so that independent components use both cores.

TFX's local runner runs each component in its own process, one after the other. Two components
in two threads of one process gain nothing: their Python (Beam's in_memory runner, TFMA, the
Keras loop) holds the GIL: two components in two threads took longer than one after the
other (measured in docs/performance.md, "Components side by side").

A `NodeWorker` is a second Python process (`spawn`), started as soon as a component has done
real work (so never in a run served from cache), or at once when the run asks (`tfxpipe run` on
a new output root), so that its TensorFlow and TFX imports happen while the first process is
busy. It sets itself up as every process of the project does (`pipeline.process`), and launches
the nodes it is given exactly as the first process does (`runner.launch_node`: same compiled
pipeline, same ML Metadata, same log file, which it inherits as stdout and stderr).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline import process


class WorkerError(RuntimeError):
    """A node could not be run in the worker process, or its error could not be sent back."""


def died_in(error: BaseException | None, log_path: Path) -> Path | None:
    """The run's log when `error` is (caused by) a worker process that died: its last words,
    a full disk say, are there."""
    while error is not None:
        if isinstance(error, WorkerError):
            return log_path
        error = error.__cause__ or error.__context__
    return None


def _how_it_ended(exitcode: int | None) -> str:
    """'exit code N', or 'killed by SIGNAME' for a process a signal ended (a negative code), or
    that it had not ended (no code yet)."""
    if exitcode is None:
        return "its connection closed, the process not ended 5 s later"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:  # not a signal this platform names
            pass
    return f"exit code {exitcode}"


def _portable_chain(error: BaseException) -> list[tuple[bytes | None, str]]:
    """The error and its causes, each pickled when it can be, always with its text."""
    chain = []
    while error is not None and len(chain) < 10:
        text = f"{type(error).__name__}: {error}"
        try:
            payload: bytes | None = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - sent as text instead
            payload = None
        chain.append((payload, text))
        error = error.__cause__ or error.__context__
    return chain


def _rebuild_chain(chain: list[tuple[bytes | None, str]]) -> BaseException:
    errors: list[BaseException] = []
    for payload, text in chain:
        try:
            error = pickle.loads(payload) if payload is not None else WorkerError(text)
        except Exception:  # noqa: BLE001 - a class that cannot be rebuilt from its args
            error = WorkerError(text)
        errors.append(error)
    for error, cause in zip(errors, errors[1:], strict=False):
        error.__cause__ = cause
    return errors[0]


def _exit_when_orphaned(parent: int) -> None:
    """Ends this process once the first process is gone (killed with -9, say): a node left
    running would write into the pipeline root while the next run cleans it up."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _serve(connection: Any, quiet_logging: bool) -> None:
    """The worker's main loop: (compiled pipeline bytes, node id) in, (status, payload) out."""
    # Ctrl-C reaches every process of the terminal's group: the first process decides what
    # happens (stopping.py) and ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    process.set_up()
    if quiet_logging:
        process.log_to_file()
    # The components' modules import TensorFlow, TFX, Beam, TFDV, TFT and TFMA: here, while the
    # first process works, rather than when the first node arrives.
    import pipeline.dag.pipelines  # noqa: F401
    from pipeline.orchestration.runner import launch_node

    connection.send(("ready", None))
    while True:
        try:
            request = connection.recv()
        except EOFError:  # the first process closed the connection: the run is over
            return
        ir_bytes, node_id = request
        try:
            connection.send(("ok", launch_node(ir_bytes, node_id)))
        except BaseException as error:  # noqa: BLE001 - sent to the first process, which raises
            traceback.print_exc()  # into the run's log, as the first process would
            connection.send(("error", _portable_chain(error)))


class NodeWorker:
    """One worker process, started on first need; `launch` runs one node there and returns its
    execution id."""

    def __init__(self, quiet_logging: bool = True):
        self._quiet_logging = quiet_logging
        self._process: Any = None
        self._ready = False

    def start(self) -> None:
        """Starts the process unless it is already started (never blocks). WorkerError when it
        cannot be started; the next call tries again."""
        if self._process is not None:
            return
        context = multiprocessing.get_context("spawn")
        connection, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self._quiet_logging),
                                  name="tfxpipe-node-worker", daemon=True)
        try:
            process.start()
        except Exception as error:  # half started, it would be waited for in vain
            connection.close()
            raise WorkerError(f"the worker process could not be started: {error}") from error
        finally:
            child.close()
        self._connection, self._process = connection, process

    def ready(self) -> bool:
        """Whether the worker has been started and has finished starting (never blocks)."""
        if self._process is not None and not self._ready and self._connection.poll(0):
            self.wait_until_ready()
        return self._ready

    def wait_until_ready(self) -> None:
        """Starts the worker if need be, and blocks until it has imported what the components
        need."""
        self.start()
        if not self._ready:
            self._receive("starting")
            self._ready = True

    def _receive(self, doing: str) -> tuple[str, Any]:
        try:
            return self._connection.recv()
        except (EOFError, OSError) as error:
            self._process.join(timeout=5)  # for its exit code
            raise WorkerError(
                f"the worker process ended unexpectedly while {doing} "
                f"({_how_it_ended(self._process.exitcode)}); see the run's log") from error

    def launch(self, ir_bytes: bytes, node_id: str) -> int | None:
        self.wait_until_ready()
        try:
            self._connection.send((ir_bytes, node_id))
        except OSError as error:
            raise WorkerError(f"the worker process could not be given {node_id} "
                              f"({_how_it_ended(self._process.exitcode)}); see the run's log"
                              ) from error
        status, payload = self._receive(f"running {node_id}")
        if status == "ok":
            return payload
        raise _rebuild_chain(payload)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """Ends the process; between nodes it holds nothing that could be lost."""
        if self._process is None:
            return
        self._connection.close()
        self._process.terminate()
        self._process.join(timeout=10)


@contextmanager
def node_workers(count: int, quiet_logging: bool = True,
                 start_now: bool = False) -> Iterator[list[NodeWorker]]:
    """`count` worker processes for the duration of a run (none when count is 0), each started
    now with `start_now`, else on first need (`runner.py`: once a component has done real
    work, not a cached run)."""
    workers = [NodeWorker(quiet_logging) for _ in range(count)]
    for worker in workers if start_now else []:
        worker.start()
    try:
        yield workers
    finally:
        for worker in workers:
            worker.close()
