"""How every process of the project is set up, in one place: its environment before TensorFlow
loads, and where its output goes.

`set_up()` is called first by every entry point (the `tfxpipe` CLI, the node worker processes,
the review package the notebooks import, the benchmarks, the test session). It only sets what
is unset, so a user's own setting wins:
- `TF_USE_LEGACY_KERAS=1`: TFX 1.16's Trainer and TFMOT need Keras 2 (tf-keras). It must be set
  before anything imports TensorFlow; child processes (Beam's workers, the node workers) inherit
  it;
- TensorFlow's C++ log level, and the caches of Matplotlib, IPython and tf-keras kept inside the
  environment or the output root, never in the home directory.

`redirected_output` keeps TensorFlow, absl and Beam noise in a run's log file, off the user's
terminal: TensorFlow's C++ runtime and Beam's worker subprocesses write to file descriptors 1
and 2 directly, so the descriptors themselves are pointed at the log, and the terminal is kept
on a duplicate for the progress lines.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LEGACY_KERAS = "TF_USE_LEGACY_KERAS"


def set_up(keras_home: str | Path | None = None, tf_log_level: int = 1) -> None:
    """The environment every process of the project runs with (see the module docstring)."""
    # Google's client libraries warn on import that Python 3.10 (which TFX 1.16 pins) is old.
    warnings.filterwarnings("ignore", message="You are using a non-supported Python version")
    os.environ.setdefault(LEGACY_KERAS, "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(tf_log_level))
    variables = Path(sys.prefix) / "var"
    os.environ.setdefault("MPLCONFIGDIR", str(variables / "matplotlib"))
    os.environ.setdefault("IPYTHONDIR", str(variables / "ipython"))
    if keras_home is not None:  # tf-keras writes keras.json into ~/.keras otherwise
        os.environ.setdefault("KERAS_HOME", str(keras_home))


class Terminal:
    """Where the user-facing lines go; stays on the real terminal while fds 1/2 are redirected."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def redirected_output(log_path: Path, verbose: bool, required: bool = True
                      ) -> Iterator[Terminal]:
    """Yields a Terminal; unless verbose, fds 1 and 2 write to `log_path` meanwhile. A command
    that only reads (`required=False`) goes on without its log where it cannot write one (a
    read-only output root): TensorFlow's and Beam's lines are then dropped."""
    if verbose:
        yield Terminal(sys.stdout)
        return
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        if required:
            raise
        log_fd = os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    log_to_file()
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


def log_to_file() -> None:
    """Python loggers keep going to (the redirected) stderr, at INFO so the log is useful."""
    logging.getLogger().setLevel(logging.INFO)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.INFO)
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to tune
        pass
