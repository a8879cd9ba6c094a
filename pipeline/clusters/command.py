"""`tfxpipe flink start|stop|status`: a Flink cluster on 127.0.0.1 for `[beam] runner =
"FlinkRunner"` (its jars from `make flink-jars`; `make flink` builds them and starts it).

Plain Python at import: no TensorFlow, no Beam.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pipeline.clusters.flink import (
    PROCESSES,
    VERSION,
    FlinkCluster,
    FlinkError,
    FlinkPorts,
    overview,
    pid,
    start,
    stop,
    wait_ready,
)
from pipeline.config import java_dir, load_config
from pipeline.config.paths import FLINK_JOB_SERVER_JAR
from pipeline.records.outcomes import EXIT_ERROR


def add_parser(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("flink", help="a Flink cluster on 127.0.0.1 (a JobManager, a "
                            "TaskManager, Beam's job server) for [beam] runner = \"FlinkRunner\"")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, function, text in (
            ("start", cmd_start, "start the JobManager, the TaskManager and Beam's job server "
                                 "(their folder: <output root>/flink)"),
            ("stop", cmd_stop, "stop them"),
            ("status", cmd_status, "what runs, and where")):
        action = actions.add_parser(name, help=text)
        common(action)
        action.add_argument("--port", type=int, default=8081, help="the REST port")
        action.add_argument("--rpc-port", type=int, default=6123, help="the JobManager's RPC port")
        action.add_argument("--job-port", type=int, default=8099,
                            help="Beam's job server port ([beam] job_endpoint)")
        action.add_argument("--slots", type=int, default=2, help="the TaskManager's task slots")
        if name == "start":
            action.add_argument("--wait", type=float, default=120, metavar="SECONDS",
                                help="how long to wait for the TaskManager")
        action.set_defaults(func=function)


def _cluster(args: argparse.Namespace) -> FlinkCluster:
    config = load_config(args.config, args.output_root)
    return FlinkCluster(config.output_root / "flink", java_dir() / "flink-lib",
                        java_dir() / FLINK_JOB_SERVER_JAR,
                        FlinkPorts(rest=args.port, rpc=args.rpc_port, job=args.job_port),
                        slots=args.slots)


def cmd_start(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    try:
        start(cluster)
        state = wait_ready(cluster, args.wait)
    except FlinkError as error:
        stop(cluster)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Flink {state.get('flink-version', VERSION)}: http://127.0.0.1:{cluster.ports.rest}, "
          f"{state['taskmanagers']} TaskManager, {state['slots-total']} slots; Beam's job "
          f"server on {cluster.job_endpoint}; logs in {cluster.home / 'logs'}")
    print(f'for the pipeline: [beam] runner = "FlinkRunner", job_endpoint = '
          f'"{cluster.job_endpoint}", parallelism = {cluster.slots}')
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    stopped = stop(_cluster(args))
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    print(f"Flink cluster folder: {cluster.home}")
    for name in PROCESSES:
        number = pid(cluster, name)
        print(f"  {name}: " + (f"running (pid {number})" if number else "not running"))
    state = overview(cluster)
    if state:
        print(f"  http://127.0.0.1:{cluster.ports.rest}: {state['slots-total']} slots, "
              f"{state['jobs-running']} jobs running, {state['jobs-finished']} finished, "
              f"{state['jobs-failed']} failed")
    return 0
