"""Airflow's scheduler and web server of one Airflow home, as background processes.

Each runs in a session of its own, its pid in `<home>/<name>.pid` and its output in
`<home>/logs/<name>.out`; `stop` ends the whole session (the scheduler's executor workers and
DAG processor, the web server's gunicorn). Airflow's own `-D` is not used: its daemon context
closes every file descriptor after the command has opened a database connection (the CLI logs
each command to the database), and the pooled connection's descriptor number is then reused by
another file. The scheduler then sometimes hung before its first heartbeat, forever.

    start(home, ports); wait_healthy(home, ports.web, 300); pid(home, "scheduler"); stop(home)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from components.shared.files import write_atomically
from pipeline.clusters.processes import signal_session

DAEMONS = ("webserver", "scheduler")   # started in the reverse order, stopped in this one


class DaemonError(RuntimeError):
    """A daemon did not come up; the message says which, why if known, and where its log is."""


def start(home: Path, env: dict[str, str], web_port: int) -> None:
    """The scheduler, then the web server (127.0.0.1:`web_port`); those running already stay."""
    airflow = str(Path(sys.executable).parent / "airflow")
    for name in reversed(DAEMONS):
        if pid(home, name) is not None:
            continue
        extra = ["--hostname", "127.0.0.1", "--port", str(web_port)] if name == "webserver" \
            else []
        log = home / "logs" / f"{name}.out"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            child = subprocess.Popen([airflow, name, *extra], env=env, cwd=home,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        write_atomically(home / f"{name}.pid", f"{child.pid}\n")


def pid(home: Path, name: str) -> int | None:
    """The pid of a running daemon of this home, from its pid file: None when that process
    ended (or is a zombie) or the number now belongs to another program."""
    try:
        number = int((home / f"{name}.pid").read_text().strip())
        os.kill(number, 0)
    except (OSError, ValueError):
        return None
    proc = Path("/proc") / str(number)
    try:
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return number  # no /proc to tell: the pid alone
    mine = b"airflow" in command and name.encode() in command
    return number if mine and state != "Z" else None


def wait_healthy(home: Path, web_port: int, timeout: float) -> None:
    """Returns once the web server answers and reports the scheduler healthy (its heartbeat is
    in the database); raises DaemonError when a daemon ended or `timeout` seconds passed."""
    deadline, health = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        for name in DAEMONS:
            if pid(home, name) is None:
                raise DaemonError(f"the {name} ended while starting: {_last_line(home, name)} "
                                  f"(log: {home / 'logs' / f'{name}.out'})")
        health = _health(web_port)
        if health.get("scheduler", {}).get("status") == "healthy":
            return
        time.sleep(2)
    state = health.get("scheduler", {}).get("status") or "no answer from the web server"
    raise DaemonError(f"Airflow's scheduler was not healthy after {timeout:.0f} s ({state}): "
                      f"see {home / 'logs'}/scheduler.out and webserver.out; 'tfxpipe airflow "
                      "stop' ends what started")


def _health(web_port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health", timeout=5) as answer:
            return json.load(answer)
    except (OSError, ValueError):
        return {}


def _last_line(home: Path, name: str) -> str:
    try:
        lines = (home / "logs" / f"{name}.out").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return lines[-1].strip() if lines else "no output"


def stop(home: Path, timeout: float = 30.0) -> list[str]:
    """Ends the web server and the scheduler with their sessions (SIGTERM, then SIGKILL after
    `timeout` seconds); the names of those that ran."""
    stopped = []
    for name in DAEMONS:
        number = pid(home, name)
        if number is None:
            continue
        signal_session(number, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid(home, name) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        signal_session(number, signal.SIGKILL)  # what is left of the session
        (home / f"{name}.pid").unlink(missing_ok=True)
        stopped.append(name)
    return stopped

