"""A cluster's Java processes on this machine: each in a session of its own, its pid in
`<home>/<name>.pid`, its output in `<home>/logs/<name>.out`; found again by the pid file, the
main class and the cluster's folder on its command line (a reused pid is not taken for it).

    launch(home, "master", command); pid(home, "master", MAIN); stop(home, {"master": MAIN})
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from components.shared.files import write_atomically

# What Flink 1.16 and Spark 3.2 reach into on Java 17.
JAVA_17_FLAGS = (
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    *(f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in (
        "java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio",
        "sun.nio.ch", "sun.nio.cs", "sun.security.action", "sun.util.calendar", "java.text",
        "java.time", "java.util", "java.util.concurrent", "java.util.concurrent.atomic",
        "java.util.concurrent.locks")))


def java_dir() -> Path:
    """Where `make flink-jars` and `make spark-jars` put the clusters' jars: inside this Python
    environment (so that `make distclean` removes them with it), never in the home directory."""
    return Path(sys.prefix) / "java"


class ClusterError(RuntimeError):
    """A cluster could not start; the message says which process, why if known, and where its
    log is."""


def launch(home: Path, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
    (home / "logs").mkdir(parents=True, exist_ok=True)
    with open(home / "logs" / f"{name}.out", "ab") as out:
        child = subprocess.Popen(command, cwd=home, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    write_atomically(home / f"{name}.pid", f"{child.pid}\n")


def pid(home: Path, name: str, main: str) -> int | None:
    """The pid of the cluster's running `name`, from its pid file: None when that process
    ended (or is a zombie) or the number now belongs to another program."""
    try:
        number = int((home / f"{name}.pid").read_text().strip())
        command = Path(f"/proc/{number}/cmdline").read_bytes().replace(b"\0", b" ")
        state = Path(f"/proc/{number}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    mine = main.encode() in command and str(home).encode() in command
    return number if mine and state != "Z" else None


def wait_ready(home: Path, mains: dict[str, str], ready: Callable[[], dict | None],
               timeout: float, what: str) -> dict:
    """`ready()`'s answer once it is not None; raises ClusterError when a process ended or
    `timeout` seconds passed (`what` names what was awaited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, main in mains.items():
            if pid(home, name, main) is None:
                raise ClusterError(f"the {name} ended while starting: {cause(home, name)} "
                                   f"(logs: {home / 'logs'})")
        state = ready()
        if state is not None:
            return state
        time.sleep(1)
    raise ClusterError(f"{what} not ready after {timeout:.0f} s: see {home / 'logs'}")


def capacity_and_job_server(overview: Callable[[], dict], key: str, needed: int,
                            job_port: int) -> Callable[[], dict | None]:
    """A `ready` for `wait_ready`: the cluster's overview once its `key` (slots, cores) reaches
    `needed` and Beam's job server listens on `job_port`, else None."""
    def ready() -> dict | None:
        state = overview()
        return state if state.get(key, 0) >= needed and listens(job_port) else None

    return ready


def cause(home: Path, name: str) -> str:
    """The last line of `name`'s logs that says what went wrong, else the last line."""
    lines = []
    for log in (home / "logs" / f"{name}.log", home / "logs" / f"{name}.out"):
        try:
            lines += log.read_text(errors="replace").strip().splitlines()
        except OSError:
            pass
    causes = [line for line in lines if "Caused by:" in line or " ERROR " in line]
    return (causes[-1] if causes else lines[-1] if lines else "no output").strip()


def stop(home: Path, mains: dict[str, str], timeout: float = 30.0) -> list[str]:
    """Ends the processes in the reverse of `mains`' order (SIGTERM, then SIGKILL after
    `timeout` seconds, each with its session); the names of those that ran."""
    stopped = []
    for name in reversed(mains):
        number = pid(home, name, mains[name])
        if number is not None:
            signal_session(number, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid(home, name, mains[name]) is not None and time.monotonic() < deadline:
                time.sleep(0.5)
            signal_session(number, signal.SIGKILL)
            stopped.append(name)
        (home / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def signal_session(leader: int, sent: signal.Signals) -> None:
    """`sent` to the session (process group) `leader` started; none left is no error."""
    try:
        os.killpg(leader, sent)
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def get_json(url: str) -> dict:
    """A service's JSON answer ({} when none)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except (OSError, ValueError):
        return {}
