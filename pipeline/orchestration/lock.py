"""One run per output root at a time: an OS lock on `<output root>/.tfxpipe.lock`.

The lock is `flock` on an open file: the kernel releases it when the process ends, however it
ends (kill -9 included), so a killed run never blocks the next one and there is no stale lock
to clean up. The output root folder itself is locked too, after the file: a lock file deleted
by hand (taken for a stale lock) is made again by the next run, whose lock on it would hold,
but the folder's lock still holds. (Where the file system cannot lock a folder, as some network
file systems, the file's lock is the lock.) Who holds it (pid, run id, since when) is written
beside it, in `.tfxpipe.lock.json`, for the line a waiting run prints; that file is only
believed while the lock is held. Read-only commands (runs, report, lineage, the notebooks)
never take the lock: what they read is written aside and renamed into place.

A run scheduled on Airflow is many processes, one per task, so no process can hold the lock
for the whole run. Its first task takes the lock and leaves a *lease* (`.tfxpipe.lease.json`:
which run, since when) that its last task removes; until then every other holder of the lock
(a `tfxpipe run`, a rollback, another scheduled run) waits, or with `--no-wait` stops, as if
the lock were held. The run's own tasks need no lock: the lease is theirs.

Plain Python: the CLI takes the lock before TensorFlow loads.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from components.shared.files import to_json, write_atomically

LOCK_NAME = ".tfxpipe.lock"
LEASE_NAME = ".tfxpipe.lease.json"
LEASE_POLL_SECONDS = 5.0


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
                     say: Callable[[str], None] = print,
                     lease_owner: str | None = None) -> Iterator[Callable[[str], None]]:
    """Holds the output root's lock for the `with` block; yields `record(run_id)`, which writes
    the run's id into the holder file once it is known.

    When another process holds it, or a scheduled run other than `lease_owner` holds its lease:
    with `wait`, one line says who and the call blocks until it is released; without, RootBusy
    is raised at once.
    """
    output_root.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        fd = os.open(output_root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        folder = os.open(output_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            quiet = said
            for locked in (fd, folder):
                quiet = _acquire(locked, output_root, wait,
                                 say if not quiet else lambda line: None) or quiet
            lease = read_lease(output_root)
            if lease is None or lease.get("owner") == lease_owner:
                yield _holder_writer(output_root, command)
                return
        finally:
            os.close(folder)
            os.close(fd)  # releases the locks
        busy = f"the output root {output_root} is in use by {lease_text(lease)}"
        stale = (" (if that run is no longer running, its DAG run ended without its finish "
                 "task: release it with 'tfxpipe doctor --release-lease')")
        if not wait:
            raise RootBusy(f"{busy}; run again when it has ended, or without --no-wait to "
                           f"wait for it{stale}")
        if not said:
            say(f"waiting: {busy}{stale}")
            said = True
        time.sleep(LEASE_POLL_SECONDS)


def _acquire(fd: int, output_root: Path, wait: bool, say: Callable[[str], None]) -> bool:
    """Locks `fd` (the lock file, or the folder); whether it had to say it waits. A folder the
    file system cannot lock is left unlocked (OSError other than 'held by another')."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        holder = holder_text(output_root)
        if not wait:
            raise RootBusy(f"the output root {output_root} is in use by {holder}; run again "
                           "when it has ended, or without --no-wait to wait for it") from None
        say(f"waiting: the output root {output_root} is in use by {holder}")
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    except OSError:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return False
        raise


def _holder_writer(output_root: Path, command: str) -> Callable[[str | None], None]:
    since = _now()

    def record(run_id: str | None) -> None:
        write_atomically(output_root / f"{LOCK_NAME}.json", to_json(
            {"pid": os.getpid(), "command": command, "run_id": run_id, "since": since}))

    record(None)
    return record


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_lease(output_root: Path) -> dict | None:
    """The lease of a scheduled run in progress, or None."""
    try:
        return json.loads((output_root / LEASE_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # unreadable: a lease all the same, of an unknown run
        return {"owner": None, "holder": "a scheduled run (its lease file is unreadable)"}


def lease_text(lease: dict | None) -> str:
    if not lease:
        return "nothing"
    return f"{lease.get('holder')} (run {lease.get('run_id') or '?'}, since {lease.get('since')})"


def take_lease(output_root: Path, owner: str, holder: str, run_id: str) -> None:
    """Leaves the lease of scheduled run `owner` (call while holding the lock)."""
    write_atomically(output_root / LEASE_NAME, to_json(
        {"owner": owner, "holder": holder, "run_id": run_id, "since": _now()}))


def release_lease(output_root: Path, owner: str | None = None) -> bool:
    """Removes the lease (only `owner`'s, when given); whether there was one to remove."""
    lease = read_lease(output_root)
    if lease is None or (owner is not None and lease.get("owner") != owner):
        return False
    (output_root / LEASE_NAME).unlink(missing_ok=True)
    return True


def is_locked(output_root: Path) -> bool:
    """Whether a run holds the output root's lock now (never blocks, never takes it)."""
    paths = [path for path in (output_root / LOCK_NAME, output_root) if path.exists()]
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            pass  # a folder the file system cannot lock
        finally:
            os.close(fd)
    return False
