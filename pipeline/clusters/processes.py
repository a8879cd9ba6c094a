"""A cluster's Java processes on this machine: each in a session of its own, its pid in
`<home>/<name>.pid`, its output in `<home>/logs/<name>.out`; found again by its main class and
the cluster's folder on its command line: through the pid file (a reused pid is not taken for
it), else among all processes (one whose start was killed before its pid file was written).

    with locked(home, 60): start_missing(home, {"master": MAIN}, command)
    pid(home, "master", MAIN); stop(home, {"master": MAIN})
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def java_version(java: str) -> int | None:
    """The major version of the Java `java` runs (8 for 1.8), None when it does not run."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(?:1\.)?(\d+)', done.stderr + done.stdout)
    return int(found.group(1)) if found and done.returncode == 0 else None


def check_java(java: str, engine: str, versions: range) -> None:
    """Raises ClusterError, saying which Java to use, unless `java` is one of `versions`."""
    version = java_version(java)
    if version not in versions:
        have = f"is Java {version}" if version else "does not run"
        raise ClusterError(
            f"{engine} runs on Java {versions.start} to {versions.stop - 1} and '{java}' {have}: "
            "install OpenJDK 17 (apt-get install openjdk-17-jdk-headless) and pass its java "
            "with --java /usr/lib/jvm/java-17-openjdk-amd64/bin/java")


@contextmanager
def locked(home: Path, timeout: float) -> Iterator[None]:
    """Holds `<home>/cluster.lock` (one start or stop of a cluster at a time, in any process;
    the lock ends with the process that held it); raises ClusterError after `timeout` seconds."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "cluster.lock", "a+") as lock:
        if not _take(lock, timeout):
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise ClusterError(f"{holder} is still starting or stopping the cluster in {home} "
                               f"after {timeout:.0f} s: wait for it, or end that process")
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        yield


def _take(lock, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def start_missing(home: Path, mains: dict[str, str], command: Callable[[str], list[str]],
                  env: dict[str, str] | None = None) -> list[str]:
    """Launches each of `mains` not running, in order (`command(name)` its command line); one
    running without its pid file gets the file back. The names of those launched."""
    started = []
    for name, main in mains.items():
        if _from_pid_file(home, name, main) is not None:
            continue
        lost = _among_all(home, main)
        if lost is None:
            launch(home, name, command(name), env)
            started.append(name)
        else:
            write_atomically(home / f"{name}.pid", f"{lost}\n")
    return started


def launch(home: Path, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
    (home / "logs").mkdir(parents=True, exist_ok=True)
    with open(home / "logs" / f"{name}.out", "ab") as out:
        child = subprocess.Popen(command, cwd=home, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    write_atomically(home / f"{name}.pid", f"{child.pid}\n")


def pid(home: Path, name: str, main: str) -> int | None:
    """The pid of the cluster's running `name` (from its pid file, else found among all
    processes): None when none runs (a zombie does not)."""
    found = _from_pid_file(home, name, main)
    return found if found is not None else _among_all(home, main)


def _from_pid_file(home: Path, name: str, main: str) -> int | None:
    try:
        number = int((home / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return number if _is(number, home, main) else None


def _among_all(home: Path, main: str) -> int | None:
    """A live process that runs `main` with a file in `home`, found without its pid file."""
    numbers = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return next((number for number in numbers if _is(number, home, main)), None)


def _is(number: int, home: Path, main: str) -> bool:
    """Whether process `number` lives, runs `main` and names a file in `home`."""
    try:
        words = Path(f"/proc/{number}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{number}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    inside = f"{home}/".encode()
    return (state != "Z" and main.encode() in words
            and any(inside in word for word in words))


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
    """Ends the processes in the reverse of `mains`' order, each with its session, every copy
    of one found (SIGTERM, then SIGKILL after `timeout` seconds); the names of those that ran."""
    stopped = []
    for name in reversed(mains):
        number = pid(home, name, mains[name])
        if number is not None:
            stopped.append(name)
        while number is not None:
            for sent, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
                signal_session(number, sent)
                deadline = time.monotonic() + wait
                while _is(number, home, mains[name]) and time.monotonic() < deadline:
                    time.sleep(0.2)
            if _is(number, home, mains[name]):
                raise ClusterError(f"the {name} (pid {number}) did not end on SIGKILL: end it "
                                   "as its owner")
            number = pid(home, name, mains[name])
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
