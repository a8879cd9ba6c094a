"""SIGINT (Ctrl-C) and SIGTERM (a scheduler stopping a task) end a run in order, not abruptly.

While a run holds its output root, either signal raises `Stopped` in the main thread, wherever
it is; the run then ends its worker processes, marks its unfinished executions failed, writes
the summary and the report of what happened, and exits with 128 + the signal's number (130,
143), as a shell reports a process ended by a signal. A second signal meanwhile is ignored, so
the record is always written. kill -9 cannot be caught: the next run clears what it leaves
(`cleanup.py`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(BaseException):
    """A signal asked the run to stop. A BaseException, so no `except Exception` swallows it
    (TFX's launcher would otherwise record it as the component's own failure)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise_stopped(signum: int, _frame) -> None:
    for other in SIGNALS:  # a second Ctrl-C must not cut the record short
        signal.signal(other, signal.SIG_IGN)
    raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise Stopped; afterwards the old handlers. Off the
    main thread (a run started by a scheduler's thread) signals are the caller's: nothing is
    changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM are ignored (a stopped run writing its record)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
