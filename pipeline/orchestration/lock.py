"""One run per output root at a time: an OS lock on `<output root>/.tfxpipe.lock`.

The lock is `flock` on an open file: the kernel releases it when the process ends, however it
ends (kill -9 included), so a killed run never blocks the next one and there is no stale lock
to clean up. Who holds it (pid, run id, since when) is written beside it, in
`.tfxpipe.lock.json`, for the line a waiting run prints; that file is only believed while the
lock is held. Read-only commands (runs, report, lineage, the notebooks) never take the lock:
what they read is written aside and renamed into place.

Plain Python: the CLI takes the lock before TensorFlow loads.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from components.shared.files import to_json, write_atomically

LOCK_NAME = ".tfxpipe.lock"


class RootBusy(RuntimeError):
    """The output root is in use by another run and the caller would not wait."""


def holder_text(output_root: Path) -> str:
    """'run <id> (pid N, since <time>)' for the current holder, as far as it is known."""
    try:
        holder = json.loads((output_root / f"{LOCK_NAME}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "another run (which one is not recorded yet)"
    what = holder.get("command") or "a run"
    return (f"{what} (pid {holder.get('pid')}, run {holder.get('run_id') or '?'}, "
            f"since {holder.get('since')})")


@contextmanager
def output_root_lock(output_root: Path, command: str, wait: bool = True,
                     say: Callable[[str], None] = print) -> Iterator[Callable[[str], None]]:
    """Holds the output root's lock for the `with` block; yields `record(run_id)`, which writes
    the run's id into the holder file once it is known.

    When another process holds it: with `wait`, one line says who and the call blocks until it
    is released; without, RootBusy is raised at once.
    """
    output_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(output_root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_text(output_root)
            if not wait:
                raise RootBusy(f"the output root {output_root} is in use by {holder}; run again "
                               "when it has ended, or without --no-wait to wait for it") from None
            say(f"waiting: the output root {output_root} is in use by {holder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

        def record(run_id: str | None) -> None:
            write_atomically(output_root / f"{LOCK_NAME}.json", to_json(
                {"pid": os.getpid(), "command": command, "run_id": run_id, "since": since}))

        record(None)
        yield record
    finally:
        os.close(fd)  # releases the lock


def is_locked(output_root: Path) -> bool:
    """Whether a run holds the output root's lock now (never blocks, never takes it)."""
    path = output_root / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
