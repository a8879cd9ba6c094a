"""What a run ended as: its exit code and outcome name, an error in one line, and its
`summary.json`. Plain Python: the CLI imports it before TensorFlow loads."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from components.shared.files import to_json, write_atomically

EXIT_PUSHED = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_BLESSED = 3
EXIT_DATA_HALT = 4
EXIT_BUSY = 5  # the output root is in use by another run and --no-wait was given
EXIT_SIGINT = 130  # 128 + the signal's number, as shells report it
EXIT_SIGTERM = 143

OUTCOMES = {
    EXIT_PUSHED: "pushed",
    EXIT_ERROR: "error",
    EXIT_USAGE: "config error",
    EXIT_NOT_BLESSED: "not blessed",
    EXIT_DATA_HALT: "halted by data validation",
    EXIT_BUSY: "output root busy",
    EXIT_SIGINT: "interrupted (SIGINT)",
    EXIT_SIGTERM: "terminated (SIGTERM)",
}


# What the operating system says when a write cannot happen: the words the user reads, the fix.
_FULL = ("the disk is full", "free space on it, then rerun")
_CAUSES = {errno.ENOSPC: _FULL, errno.EDQUOT: ("the disk quota is exceeded", _FULL[1]),
           errno.EROFS: ("the file system is read-only",
                         "make it writable or choose another --output-root"),
           errno.EACCES: ("permission denied",
                          "give this user write access or choose another --output-root"),
           errno.EPERM: ("operation not permitted",
                         "give this user write access or choose another --output-root")}
_MARKERS = {os.strerror(code): cause for code, cause in _CAUSES.items()}
_MARKERS["database or disk is full"] = _FULL  # SQLite's words (ML Metadata's store)
# A frame of a Java stack trace (a Flink or Spark job's failure carries the job server's), or
# its "... 12 more": never the line that says what went wrong.
_JAVA_FRAME = re.compile(r"(at )?[\w$./]+\.[\w$<>]+\(([\w$.]+\.(java|scala)(:\d+)?|Native Method|"
                         r"Unknown Source)\)|\.\.\. \d+ more")


def one_line(error: BaseException, log_path: Path | None = None) -> str:
    """The cause when the system refused a write (full disk, read-only file system, permission),
    with the path, found in the error, its causes, or the end of `log_path` (where a worker
    process that died of it wrote it); else `Type: the last line of its message` that is not a
    frame of a Java stack trace. At most 300 characters."""
    cause = system_cause(error, log_path)
    if cause:
        return cause[:300]
    text = [line for line in str(error).strip().splitlines()
            if not _JAVA_FRAME.fullmatch(line.strip())]
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:300]


def system_cause(error: BaseException, log_path: Path | None = None) -> str | None:
    """'<cause> (<the path, or the line that says it>); <the fix>' (see `one_line`), or None."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in _CAUSES:
            cause, fix = _CAUSES[seen.errno]
            return f"{cause} ({seen.filename or seen}); {fix}"
        found = _marked_line(str(seen))
        if found:
            return found
        seen = seen.__cause__ or seen.__context__
    if log_path is not None and log_path.is_file():
        with open(log_path, "rb") as handle:
            handle.seek(max(0, log_path.stat().st_size - 200_000))
            return _marked_line(handle.read().decode("utf-8", "replace"))
    return None


def _marked_line(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        for marker, (cause, fix) in _MARKERS.items():
            if marker in line:
                return f"{cause} ({line.strip()[-200:]}); {fix}"
    return None


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """`summary.json` in the run's folder, written aside and renamed into place."""
    return write_atomically(run_dir / "summary.json", to_json(summary))
