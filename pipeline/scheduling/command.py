"""`tfxpipe airflow dag|start|stop|status`: the pipeline scheduled on Apache Airflow.

Plain Python at import: the CLI registers the commands before anything heavy loads; Airflow is
needed only by `start` (install it with `make airflow`).
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable

from components.shared.files import write_atomically
from pipeline import process
from pipeline.config import Config, load_config

ADMIN = "admin"


def add_parser(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("airflow", help="schedule the pipeline on Apache Airflow "
                            "(one task per component, one run per data interval)")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, function, text in (
            ("dag", cmd_dag, "write the DAG (and its spec) into <output root>/airflow/dags"),
            ("start", cmd_start, "write the DAG, start PostgreSQL, Airflow's scheduler and web "
                                 "server on 127.0.0.1"),
            ("stop", cmd_stop, "stop the web server, the scheduler and PostgreSQL"),
            ("status", cmd_status, "what runs, and where")):
        action = actions.add_parser(name, help=text)
        common(action)
        if name == "start":
            action.add_argument("--port", type=int, default=8080, help="web server port")
            action.add_argument("--db-port", type=int, default=5433,
                                help="PostgreSQL port (127.0.0.1 only)")
            action.add_argument("--wait", type=float, default=300, metavar="SECONDS",
                                help="how long to wait for the scheduler's first heartbeat")
        action.set_defaults(func=function)


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.output_root)


def cmd_dag(args: argparse.Namespace) -> int:
    from pipeline.scheduling.home import airflow_home, write_dag

    config = _config(args)
    process.set_up(keras_home=config.output_root / ".keras")  # tf-keras would write ~/.keras
    log = airflow_home(config) / "logs" / "dag.log"  # TFX compiles the pipeline: its noise
    with process.redirected_output(log, args.verbose):
        dag_file, spec = write_dag(config)
    schedule = spec.schedule
    print(f"DAG '{spec.dag_id}': {len(spec.nodes)} component tasks, schedule "
          f"{schedule['interval']} from {schedule['start']} (span {schedule['first_span']}), "
          f"catchup {'on' if schedule['catchup'] else 'off'}")
    print(f"written: {dag_file}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from pipeline.scheduling import daemons, database
    from pipeline.scheduling.home import Ports, airflow, airflow_env, airflow_home, write_config

    config = _config(args)
    cmd_dag(args)
    home, ports = airflow_home(config), Ports(web=args.port, database=args.db_port)
    url = database.start(home / "postgres", ports.database)
    print(f"PostgreSQL: 127.0.0.1:{ports.database}, data in {home / 'postgres'}")
    write_config(home, url, ports, config.pipeline.parallel_components)
    airflow(home, "db", "migrate")
    _admin_user(home)
    daemons.start(home, airflow_env(home), ports.web)
    daemons.wait_healthy(home, ports.web, args.wait)
    print(f"Airflow: http://127.0.0.1:{ports.web}, scheduler healthy (user {ADMIN}, password in "
          f"{home / 'admin-password'})")
    print(f"for the airflow command: export AIRFLOW_HOME={home}")
    print(f"the DAG starts paused: unpause it in the web UI or with 'airflow dags unpause "
          f"tfxpipe_{config.pipeline.name}'" + (" (catchup runs every missed interval)"
                                                  if config.schedule.catchup else ""))
    return 0


def _admin_user(home) -> None:
    """The web UI's admin user, created once; its password kept in the Airflow home (0600)."""
    from pipeline.scheduling.home import airflow

    path = home / "admin-password"
    if path.exists():
        return
    password = secrets.token_urlsafe(12)
    airflow(home, "users", "create", "--role", "Admin", "--username", ADMIN,
            "--password", password, "--email", "admin@localhost", "--firstname", "tfxpipe",
            "--lastname", "admin")
    write_atomically(path, password + "\n")
    path.chmod(0o600)


def cmd_stop(args: argparse.Namespace) -> int:
    from pipeline.scheduling import daemons, database
    from pipeline.scheduling.home import airflow_home

    home = airflow_home(_config(args))
    stopped = daemons.stop(home)
    if database.stop(home / "postgres"):
        stopped.append("PostgreSQL")
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.scheduling import daemons, database
    from pipeline.scheduling.home import airflow_home

    home = airflow_home(_config(args))
    print(f"AIRFLOW_HOME: {home}")
    for name in daemons.DAEMONS:
        pid = daemons.pid(home, name)
        print(f"  {name}: " + (f"running (pid {pid})" if pid else "not running"))
    print("  PostgreSQL: " + ("running" if database.is_running(home / "postgres")
                              else "not running"))
    return 0
