"""Faults through the real CLI on a user's dataset (iris, config only): two runs started together,
a process tree killed with -9 (Transform, the backfill, the push), SIGTERM and SIGINT
mid-component, a rollback, a lost store, a full disk.

One sequence on one output root, each step starting from what the one before left, as runs on a
scheduled machine do: what matters is what the next run finds and does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline.records.mlmd import STATE_NAMES, open_store
from tests.fixtures import PROJECT
from tests.fixtures.cli import last_run_id, read_summary, run_cli
from tests.fixtures.datasets import deliver, load, write

pytestmark = pytest.mark.slow


def _start(config: Path, *args: str) -> subprocess.Popen:
    """`tfxpipe run` in its own process group (so that the whole tree can be signalled)."""
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config",
                             str(config), *args], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _executions(metadata: Path) -> list[tuple[str, str]]:
    """(node, state) of every execution, oldest first."""
    if not metadata.is_file():
        return []
    try:
        store = open_store(metadata)
        return [(next((c.name.split(".", 1)[1] for c in store.get_contexts_by_execution(e.id)
                       if c.type == "node"), "?"), STATE_NAMES(e.last_known_state))
                for e in store.get_executions()]
    except Exception:  # noqa: BLE001 - the store is being created or written: ask again
        return []


RUNNING_NOW = f"""
SELECT node.name, run.name FROM Execution e
JOIN Association an ON an.execution_id = e.id JOIN Context node ON node.id = an.context_id
JOIN Type nt ON nt.id = node.type_id AND nt.name = 'node'
JOIN Association ar ON ar.execution_id = e.id JOIN Context run ON run.id = ar.context_id
JOIN Type rt ON rt.id = run.type_id AND rt.name = 'pipeline_run'
WHERE e.last_known_state = {metadata_store_pb2.Execution.RUNNING}
"""


def _running(metadata: Path) -> list[tuple[str, str]]:
    """(node, pipeline run) of the executions RUNNING now: one SQL query, so that a poll
    takes milliseconds and a short component is not missed."""
    try:
        with sqlite3.connect(f"file:{metadata}?mode=ro", uri=True, timeout=1) as connection:
            return [(node.split(".", 1)[-1], run)
                    for node, run in connection.execute(RUNNING_NOW).fetchall()]
    except sqlite3.Error:  # not created yet, or being written: ask again
        return []


def _signal_while(process: subprocess.Popen, metadata: Path, node: str, signum: int,
                  serving: Path | None = None) -> str:
    """Sends `signum` to the run's process group as soon as `node` is RUNNING (any node of the
    backfill with node="backfill"); with `serving`, also as soon as a version is being
    assembled there or has just been renamed into place. Its output."""
    served = set(serving.iterdir()) if serving is not None else set()

    def found() -> bool:
        if serving is not None and any(p.name.startswith(".tmp-") or p not in served
                                       for p in serving.iterdir()):
            return True
        return any(n == node or (node == "backfill" and "-span-" in run)
                   for n, run in _running(metadata))

    # The push takes a tenth of a second: once the Evaluator before it has run, the watch goes
    # on without a pause (the run still writes its summary and report after the push).
    before = {"VersionedPusher": "Evaluator"}.get(node)
    seen_before = False
    deadline = time.monotonic() + 600
    while not found():
        assert process.poll() is None, f"the run ended before {node} ran: {process.stdout.read()}"
        assert time.monotonic() < deadline, f"{node} never ran"
        seen_before = seen_before or (before is not None
                                      and before in {n for n, _ in _running(metadata)})
        if not seen_before:
            time.sleep(0.05)
    os.killpg(process.pid, signum)
    out, _ = process.communicate(timeout=600)
    return out


def _debris(pipeline_dir: Path) -> list[Path]:
    return (list(pipeline_dir.glob("serving/*/.tmp-*"))
            + list(pipeline_dir.glob("pipeline_root/*/.system/executor_execution/*/.temp"))
            + list(pipeline_dir.glob("runs/*/.*.tmp")))


def _served(pipeline_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in pipeline_dir.glob("serving/iris/*") if p.name.isdigit())


def test_concurrent_killed_stopped_and_lost_runs_never_push_twice_or_leave_debris(tmp_path):
    dataset = load("iris")
    config = write(dataset, tmp_path, dirty=False, optimization="")
    pipeline_dir = tmp_path / "out" / "iris"
    metadata = pipeline_dir / "metadata.sqlite"

    # Two runs started together on a new root: one waits for the other; one version.
    together = [_start(config), _start(config)]
    outs = [p.communicate(timeout=900)[0] for p in together]
    assert [p.returncode for p in together] == [0, 0], outs
    assert sum("waiting: the output root" in out for out in outs) == 1, outs
    assert _served(pipeline_dir) == [1]

    # Spans 2 and 3 at once, a window of 2 (span 2 is backfilled): kill -9 of the whole tree
    # during the backfill, then during Transform; SIGTERM during the Trainer; Ctrl-C (SIGINT
    # to the group) during the Evaluator; kill -9 during the push (or just after its rename,
    # while the run writes its record). Each next run cleans up what the last one left; the
    # last pushes version 2, once.
    for span, step in ((2, 2), (3, 3)):
        deliver(config, span, dataset.header, [list(r) for r in dataset.rows[span % 2::step]])
    window = ("--window", "2")
    _signal_while(_start(config, *window), metadata, "backfill", signal.SIGKILL)
    out = _signal_while(_start(config, *window), metadata, "Transform", signal.SIGKILL)
    assert "cleaned up after a run that was killed: 1 unfinished execution(s) marked failed" in out
    assert ("Transform", "RUNNING") in _executions(metadata)

    terminated = _start(config, *window)
    out = _signal_while(terminated, metadata, "Trainer", signal.SIGTERM)
    assert terminated.returncode == 143, out
    assert "stopped by SIGTERM while Trainer ran (marked failed)" in out
    summary = read_summary(pipeline_dir / "runs", last_run_id(pipeline_dir / "runs"))
    assert (summary["outcome"], summary["exit_code"]) == ("terminated (SIGTERM)", 143)
    assert "report: " in out and (pipeline_dir / "runs" / summary["run_id"] / "report.html"
                                  ).is_file()
    assert "Traceback" not in out and "INFO:absl" not in out  # the log's lines stay in the log

    interrupted = _start(config, *window)
    out = _signal_while(interrupted, metadata, "Evaluator", signal.SIGINT)
    assert interrupted.returncode == 130, out
    # BaselineScores runs beside the Evaluator: the line names every node that was running.
    stopped = re.search(r"stopped by SIGINT while (.+?) ran", out)
    assert stopped and "Evaluator" in stopped.group(1).split(", "), out
    assert set(stopped.group(1).split(", ")) <= {"Evaluator", "BaselineScores"}, out
    assert not [e for e in _executions(metadata) if e[1] in ("RUNNING", "NEW")]
    assert _served(pipeline_dir) == [1] and not _debris(pipeline_dir)

    _signal_while(_start(config, *window), metadata, "VersionedPusher", signal.SIGKILL,
                  serving=pipeline_dir / "serving" / "iris")
    done = run_cli("run", "--config", str(config), *window)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _served(pipeline_dir) == [1, 2] and not _debris(pipeline_dir)
    states = {state for node, state in _executions(metadata)}
    assert "RUNNING" not in states and "FAILED" in states
    doctor = run_cli("doctor", "--config", str(config), timeout=120)
    assert doctor.returncode == 0 and "nothing left by killed runs" in doctor.stdout, doctor
    lineage = run_cli("lineage", "--config", str(config), "--no-metrics", timeout=300)
    assert lineage.returncode == 0 and "has no PushedModel" not in lineage.stdout, lineage
    assert "span 2" in lineage.stdout and "span 3" in lineage.stdout, lineage.stdout

    # A refused rollback (no such version, the served one, no reason) is one line, exit 2, and
    # leaves no run behind (it left a run without a summary, which `report` took as the latest).
    runs_before = sorted((pipeline_dir / "runs").iterdir())
    for refused in (("9", "x"), ("2", "x"), ("1", " ")):
        out = run_cli("rollback", "--config", str(config), "--to", refused[0], "--reason",
                      refused[1], timeout=120)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stdout + out.stderr
    assert sorted((pipeline_dir / "runs").iterdir()) == runs_before

    # A rollback serves version 1 again as version 3, recorded as such.
    back = run_cli("rollback", "--config", str(config), "--to", "1", "--reason",
                   "v2 misroutes setosa", timeout=300)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "version 1 is served again as version 3" in back.stdout
    assert _served(pipeline_dir) == [1, 2, 3]
    manifest = json.loads((pipeline_dir / "serving/iris/3/manifest.json").read_text())
    assert manifest["rollback"]["of_version"] == 1 and manifest["rollback"]["from_version"] == 2
    assert manifest["model"] == json.loads(
        (pipeline_dir / "serving/iris/1/manifest.json").read_text())["model"]
    listing = run_cli("runs", "--config", str(config), timeout=120)
    assert "rollback to v1" in listing.stdout, listing.stdout
    lineage = run_cli("lineage", "--config", str(config), "--version", "3", "--no-metrics",
                      timeout=300)
    assert lineage.returncode == 0 and "v2 misroutes setosa" in lineage.stdout, lineage
    assert "has no PushedModel" not in lineage.stdout
    store = open_store(metadata)
    revoked = [a for a in store.get_artifacts_by_type("ModelBlessing")
               if "revoked" in a.custom_properties]
    assert len(revoked) == 1 and revoked[0].custom_properties["blessed"].int_value == 0

    # The store lost: refused in one line, nothing in the pipeline root touched.
    before = sorted(str(p) for p in (pipeline_dir / "pipeline_root").rglob("*"))
    metadata.rename(tmp_path / "metadata.sqlite.saved")
    lost = run_cli("run", "--config", str(config), timeout=300)
    assert lost.returncode == 1 and "is missing, but" in lost.stderr, lost.stderr
    assert lost.stderr.count("\n") == 1
    assert sorted(str(p) for p in (pipeline_dir / "pipeline_root").rglob("*")) == before
    assert _served(pipeline_dir) == [1, 2, 3] and not metadata.exists()


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs that a filler file leaves 600 KB of (root only; else the test is skipped:
    tests/test_safety.py simulates ENOSPC instead): a run fills it halfway."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - 600 * 1024))
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_is_named_in_one_line_with_its_path_and_leaves_nothing_stale(tmp_path,
                                                                                small_disk):
    config = write(load("iris"), tmp_path, dirty=False, optimization="")
    out_root = small_disk / "out"
    full = run_cli("run", "--config", str(config), "--output-root", str(out_root))
    out = full.stdout + full.stderr
    assert full.returncode == 1, out
    assert "Traceback" not in out
    lines = [x for x in out.splitlines() if "the disk is full" in x]
    assert lines and "free space on it" in lines[0] and str(out_root) in lines[0], out
    (small_disk / "filler").unlink()  # the fix the line asks for
    # What the next run would clean first (the kill -9 scenarios above show that run).
    doctor = run_cli("doctor", "--config", str(config), "--output-root", str(out_root),
                     "--repair", timeout=120)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    again = run_cli("doctor", "--config", str(config), "--output-root", str(out_root),
                    timeout=120)
    assert again.returncode == 0 and "nothing left by killed runs" in again.stdout, again
    assert not [e for e in _executions(out_root / "iris" / "metadata.sqlite")
                if e[1] in ("RUNNING", "NEW")] and not _debris(out_root / "iris")
