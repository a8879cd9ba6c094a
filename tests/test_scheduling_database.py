"""Airflow's private PostgreSQL server (pipeline/scheduling/database.py) on the real server:
created, started twice, used over TCP with the URL it returns, stopped, started again with the
data kept, started again after a kill -9 (a stale postmaster.pid), stopped; clear errors for a
taken port and another port than the running one."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.scheduling import database


def _installed() -> bool:
    try:
        return database.server_bin().exists()
    except database.DatabaseError:
        return False


# `make test-airflow` installs the server first (its `postgresql` target).
pytestmark = [pytest.mark.airflow, pytest.mark.skipif(
    not _installed(), reason="PostgreSQL's server is not installed (sudo apt-get install -y "
                             "postgresql): its binaries are not in /usr/lib/postgresql/*/bin")]


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """The cluster's folder; its server is stopped at the end whatever happened. As root the
    server runs as `postgres`, who cannot enter pytest's folders (0700): a folder in /tmp then."""
    base = tmp_path
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="tfxpipe-pg-"))
        base.chmod(0o755)
    try:
        yield base / "airflow" / "postgres"
    finally:
        database.stop(base / "airflow" / "postgres")
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _query(url: str, sql: str) -> list[str]:
    """Runs `sql` over TCP as the URL's user (psycopg2, Airflow's driver, when installed: it comes
    with the airflow extra; else psql); the first column of the rows it returns."""
    parts = urlsplit(url)
    try:
        import psycopg2
    except ImportError:
        done = subprocess.run(
            [str(database.server_bin() / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
             "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username,
             "-d", parts.path.lstrip("/"), "-c", sql],
            env={**os.environ, "PGPASSWORD": parts.password}, capture_output=True, text=True,
            check=True)
        return done.stdout.split()
    with psycopg2.connect(host=parts.hostname, port=parts.port, user=parts.username,
                          password=parts.password, dbname=parts.path.lstrip("/")) as connection:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall() if cursor.description else []
    connection.close()
    return [str(row[0]) for row in rows]


def _kill_postmaster(folder: Path) -> None:
    """kill -9 of the server, then wait until the process is gone (reaped), as after a crash."""
    pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (folder / "data" / "postmaster.pid").exists()  # left behind: pg_ctl must cope


def test_start_stop_restart_and_kill(folder: Path) -> None:
    port = _free_port()
    url = database.start(folder, port)
    assert url.startswith("postgresql+psycopg2://airflow:") and url.endswith(
        f"@127.0.0.1:{port}/airflow")
    assert database.is_running(folder) and database.start(folder, port) == url  # harmless
    assert _query(url, "SELECT current_database() || '/' || current_user") == ["airflow/airflow"]
    _query(url, "CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)")
    assert (folder / f".s.PGSQL.{port}").is_socket()  # its socket, in its folder

    assert database.stop(folder) and not database.is_running(folder)
    assert database.stop(folder) is False
    assert database.start(folder, port) == url
    assert _query(url, "SELECT value FROM kept") == ["42"]

    _kill_postmaster(folder)
    assert not database.is_running(folder)
    assert database.start(folder, port) == url
    assert _query(url, "SELECT value FROM kept") == ["42"]
    assert database.stop(folder) and not database.is_running(folder)


def test_clear_errors_for_ports(folder: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(database.DatabaseError, match=f"port {port} on 127.0.0.1 is in use"):
            database.start(folder, port)
    port = _free_port()
    database.start(folder, port)
    with pytest.raises(database.DatabaseError, match=f"already runs on port {port}, not"):
        database.start(folder, port + 1 if port < 65535 else port - 1)
