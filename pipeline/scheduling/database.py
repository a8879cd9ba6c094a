"""A private PostgreSQL server for Airflow's database, in a folder of the output root.

Airflow runs a scheduled run's independent tasks side by side only on a database that allows
concurrent writers (its LocalExecutor refuses SQLite). This runs Debian's PostgreSQL server
(`apt-get install postgresql`) as a cluster of its own, not the system's cluster or service:
data in `folder/data`, log in `folder/server.log`, Unix socket in `folder` (mode 0700), TCP on
127.0.0.1 only. A database and a role named `airflow` are created; the role's password, made
once, is kept in `folder/password` (0600) and is needed over TCP (the socket trusts whoever can
reach it: the folder's owner). PostgreSQL refuses to run as root: as root, the server runs as
the `postgres` system user, which then owns `folder`. Nothing is written to the home folder.

    url = start(folder, 5433)   # creates and starts if needed; the SQLAlchemy URL
    is_running(folder); stop(folder)
"""

from __future__ import annotations

import glob
import os
import secrets
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

NAME = "airflow"  # the database and its role
SERVER_USER = "postgres"  # who runs the server when we are root; also the cluster's superuser
INSTALL = "sudo apt-get install -y postgresql"


class DatabaseError(RuntimeError):
    """PostgreSQL cannot be set up or started; the message says what to do, in one line."""


def start(folder: str | os.PathLike[str], port: int) -> str:
    """Creates (if needed) and starts the cluster in `folder` on 127.0.0.1:`port`; returns the
    SQLAlchemy URL of its `airflow` database. Harmless when it runs already on that port."""
    folder = Path(folder).resolve()
    running = _running_port(folder)
    if running is None:
        _check_port(folder, port)
        if not (folder / "data" / "PG_VERSION").exists():
            _init(folder)
        options = (f"-c listen_addresses=127.0.0.1 -p {port} "
                   f"-c unix_socket_directories={shlex.quote(str(folder))}")
        _run([_bin(folder, "pg_ctl"), "start", "-w", "-t", "60", "-D", str(folder / "data"),
              "-l", str(folder / "server.log"), "-o", options],
             f"start on 127.0.0.1:{port}", folder / "server.log")
    elif running != port:
        raise DatabaseError(f"PostgreSQL in {folder} already runs on port {running}, not {port}:"
                            f" use port {running}, or stop it first")
    password = _password(folder)
    _ensure_database(folder, port, password)
    return f"postgresql+psycopg2://{NAME}:{password}@127.0.0.1:{port}/{NAME}"


def stop(folder: str | os.PathLike[str]) -> bool:
    """Stops the cluster in `folder` (fast shutdown: open sessions are ended); whether it ran."""
    folder = Path(folder).resolve()
    if not is_running(folder):
        return False
    _run([_bin(folder, "pg_ctl"), "stop", "-w", "-t", "60", "-m", "fast",
          "-D", str(folder / "data")], "stop", folder / "server.log")
    return True


def is_running(folder: str | os.PathLike[str]) -> bool:
    """Whether the cluster in `folder` has a live server (pg_ctl's check: a postmaster.pid left
    by a killed server does not count)."""
    folder = Path(folder).resolve()
    if not (folder / "data" / "PG_VERSION").exists():
        return False
    done = subprocess.run(_as_server_user([_bin(folder, "pg_ctl"), "status", "-D",
                                           str(folder / "data")]),
                          capture_output=True, text=True, cwd="/", env=_env(), timeout=60)
    return done.returncode == 0


def server_bin(folder: Path | None = None) -> Path:
    """PostgreSQL's bin folder: the version that made the cluster in `folder` if there is one,
    else the newest in /usr/lib/postgresql (else the one of `pg_ctl` on PATH)."""
    version_file = folder / "data" / "PG_VERSION" if folder else None
    if version_file is not None and version_file.exists():
        version = version_file.read_text().strip()
        found = Path(f"/usr/lib/postgresql/{version}/bin")
        if not (found / "pg_ctl").exists() and shutil.which("pg_ctl"):
            found = Path(shutil.which("pg_ctl")).resolve().parent  # a non-Debian layout
        if not (found / "pg_ctl").exists():
            raise DatabaseError(f"the database in {folder} needs PostgreSQL {version}, which is "
                                f"not installed: sudo apt-get install -y postgresql-{version}")
        return found
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if not installed and shutil.which("pg_ctl"):
        installed = [str(Path(shutil.which("pg_ctl")).resolve())]
    if not installed:
        raise DatabaseError(f"PostgreSQL's server is not installed: {INSTALL}")
    return Path(installed[-1]).parent


def _version_key(pg_ctl: str) -> list[int]:
    return [int(part) for part in Path(pg_ctl).parent.parent.name.split(".") if part.isdigit()]


def _bin(folder: Path, program: str) -> str:
    path = server_bin(folder) / program
    if not path.exists():
        raise DatabaseError(f"PostgreSQL's {program} is missing from {path.parent}: {INSTALL}")
    return str(path)


def _init(folder: Path) -> None:
    """A new cluster in `folder/data`: socket connections trusted (only the folder's owner can
    reach the socket), TCP ones by password."""
    _prepare(folder)
    _run([_bin(folder, "initdb"), "-D", str(folder / "data"), "-U", SERVER_USER,
          "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C"],
         f"create its database in {folder}")


def _prepare(folder: Path) -> None:
    """`folder`, mode 0700, owned by the user that runs the server, who must be able to write it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        if os.geteuid() == 0:
            shutil.chown(folder, SERVER_USER, SERVER_USER)
    except LookupError as error:
        raise DatabaseError(f"there is no '{SERVER_USER}' system user to run PostgreSQL as "
                            f"(root may not): sudo apt-get install --reinstall postgresql-common"
                            ) from error
    except OSError as error:
        raise DatabaseError(f"cannot create the database folder {folder} ({error.strerror}): "
                            "choose an output root you can write") from error
    check = subprocess.run(_as_server_user(["test", "-w", str(folder), "-a", "-x", str(folder)]),
                           cwd="/", env=_env(), timeout=60)
    if check.returncode != 0:
        raise DatabaseError(f"the '{SERVER_USER}' user that runs PostgreSQL cannot reach "
                            f"{folder} (a folder above it is closed to others): choose an "
                            "output root outside it, e.g. under /work or /srv")


def _check_port(folder: Path, port: int) -> None:
    """Clear errors, before starting, for a bad or taken port or a too long socket path."""
    if not 1024 <= port <= 65535:
        raise DatabaseError(f"port {port} is not usable for PostgreSQL: choose one in 1024-65535")
    if len(f"{folder}/.s.PGSQL.{port}") > 107:
        raise DatabaseError(f"the database folder's path is too long for PostgreSQL's socket "
                            f"({folder}): choose a shorter output root")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise DatabaseError(f"port {port} on 127.0.0.1 is in use ({error.strerror}): "
                                "choose another port for the database") from error


def _running_port(folder: Path) -> int | None:
    """The port of the server running on `folder`, None when none runs (postmaster.pid's 4th
    line is its port)."""
    if not is_running(folder):
        return None
    lines = (folder / "data" / "postmaster.pid").read_text().splitlines()
    return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None


def _password(folder: Path) -> str:
    """The `airflow` role's password, made once and kept in `folder/password` (0600)."""
    path = folder / "password"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def _ensure_database(folder: Path, port: int, password: str) -> None:
    """The `airflow` role (login with `password`) and database, created when missing."""
    sql = (f"SELECT 'CREATE ROLE {NAME}' WHERE NOT EXISTS\n"
           f"  (SELECT FROM pg_roles WHERE rolname = '{NAME}') \\gexec\n"
           f"ALTER ROLE {NAME} LOGIN PASSWORD '{password}';\n"
           f"SELECT 'CREATE DATABASE {NAME} OWNER {NAME}' WHERE NOT EXISTS\n"
           f"  (SELECT FROM pg_database WHERE datname = '{NAME}') \\gexec\n")
    _run([_bin(folder, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(folder),
          "-p", str(port), "-U", SERVER_USER, "-d", "postgres", "-f", "-"],
         f"create the '{NAME}' database", folder / "server.log", sql)


def _as_server_user(command: list[str]) -> list[str]:
    """`command`, run as the `postgres` system user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _env() -> dict[str, str]:
    """This environment without PG* variables, so that only the arguments given count."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _run(command: list[str], what: str, log: Path | None = None, stdin: str | None = None) -> str:
    """Runs `command` as the server's user; on failure, a DatabaseError naming the cause (the
    last error the server logged meanwhile, else the command's last line of output)."""
    offset = log.stat().st_size if log is not None and log.exists() else 0
    done = subprocess.run(_as_server_user(command), input=stdin, capture_output=True, text=True,
                          cwd="/", env=_env(), timeout=180)
    if done.returncode == 0:
        return done.stdout
    logged = []
    if log is not None and log.exists():
        with log.open(errors="replace") as file:
            file.seek(offset)
            logged = [line for line in file.read().splitlines() if "FATAL" in line
                      or "ERROR" in line]
    output = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
    where = f" (log: {log})" if log is not None else ""
    raise DatabaseError(f"PostgreSQL could not {what}: {(logged or output)[-1].strip()}{where}")
