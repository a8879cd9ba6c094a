"""Keeps TensorFlow, absl and Beam noise in the run's log file, off the user's terminal.

TensorFlow's C++ runtime and Beam worker subprocesses write straight to file descriptors 1 and 2,
so redirecting Python's sys.stdout is not enough: the descriptors themselves are pointed at the
log file, and the terminal is kept on a duplicate descriptor for the progress lines.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class Terminal:
    """Where the user-facing lines go; stays on the real terminal while fds 1/2 are redirected."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def redirected_output(log_path: Path, verbose: bool):
    """Yields a Terminal; unless verbose, fds 1 and 2 write to `log_path` meanwhile."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if verbose:
        yield Terminal(sys.stdout)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    quiet_python_logging()
    try:
        yield Terminal(terminal)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        terminal.close()


def quiet_python_logging() -> None:
    """Python loggers keep going to (the redirected) stderr, at INFO so the log is useful."""
    logging.getLogger().setLevel(logging.INFO)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.INFO)
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to tune
        pass


@contextmanager
def quiet_tensorflow_warnings():
    """TensorFlow's Python warnings (deprecation notices of the libraries we call) silenced
    meanwhile: a notebook or report shows results, not other libraries' housekeeping."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
