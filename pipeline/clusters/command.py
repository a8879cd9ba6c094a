"""`tfxpipe flink|spark start|stop|status`: a Flink or Spark cluster on 127.0.0.1 with Beam's job
server for it, for `[beam] runner = "FlinkRunner"` or `"SparkRunner"` (their jars from `make
flink-jars` / `make spark-jars`; `make flink` and `make spark` build them and start it).

Plain Python at import: no TensorFlow, no Beam.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pipeline.clusters import flink, spark
from pipeline.clusters.processes import ClusterError, locked
from pipeline.config import load_config
from pipeline.records.outcomes import EXIT_ERROR

LOCK_WAIT = 120.0  # seconds a start or stop waits for one at work on the cluster, besides --wait


@dataclass(frozen=True)
class _Engine:
    module: ModuleType    # start, wait_ready, stop, pid, overview, describe, PROCESSES
    ports: dict[str, tuple[int, str]]  # option: (default, what it is)
    capacity: tuple[str, int, str]     # option, default, what it is
    build: Callable[[Any, argparse.Namespace], Any]  # (config, args) -> the cluster
    runner: str


ENGINES = {
    "flink": _Engine(
        flink, {"port": (8081, "the REST port and web UI"),
                "rpc-port": (6123, "the JobManager's RPC port"),
                "job-port": (8099, "Beam's job server port ([beam] job_endpoint)")},
        ("slots", 2, "the TaskManager's task slots"),
        lambda config, args: flink.local(
            config.output_root / "flink",
            flink.FlinkPorts(rest=args.port, rpc=args.rpc_port, job=args.job_port), args.slots),
        "FlinkRunner"),
    "spark": _Engine(
        spark, {"port": (8082, "the master's web UI"),
                "master-port": (7077, "the master's port (spark://127.0.0.1:PORT)"),
                "worker-port": (8083, "the worker's web UI"),
                "job-port": (8097, "Beam's job server port ([beam] job_endpoint)")},
        ("cores", 2, "the worker's cores"),
        lambda config, args: spark.local(
            config.output_root / "spark",
            spark.SparkPorts(master=args.master_port, web=args.port,
                             worker_web=args.worker_port, job=args.job_port), args.cores),
        "SparkRunner"),
}


def add_parser(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    for name, engine in ENGINES.items():
        title = name.capitalize()
        parser = sub.add_parser(name, help=f"a {title} cluster on 127.0.0.1 with Beam's job "
                                f"server, for [beam] runner = \"{engine.runner}\"")
        actions = parser.add_subparsers(dest="action", required=True)
        for action_name, function, text in (
                ("start", cmd_start, f"start the cluster's processes and Beam's job server "
                                     f"(their folder: <output root>/{name})"),
                ("stop", cmd_stop, "stop them"),
                ("status", cmd_status, "what runs, and where")):
            action = actions.add_parser(action_name, help=text)
            common(action)
            for option, (default, what) in engine.ports.items():
                action.add_argument(f"--{option}", type=int, default=default, help=what)
            option, default, what = engine.capacity
            action.add_argument(f"--{option}", type=int, default=default, help=what)
            if action_name == "start":
                action.add_argument("--wait", type=float, default=180, metavar="SECONDS",
                                    help="how long to wait for the cluster to be ready")
                action.add_argument("--java", default="java", metavar="PATH",
                                    help="the java to run it with (default: java on PATH)")
            action.set_defaults(func=function, engine=name)


def _cluster(args: argparse.Namespace) -> tuple[_Engine, Any]:
    engine = ENGINES[args.engine]
    return engine, engine.build(load_config(args.config, args.output_root), args)


def cmd_start(args: argparse.Namespace) -> int:
    """Starts what is not running (a second start at once waits for the first, then finds the
    cluster up); when the cluster is not ready, stops it all."""
    engine, cluster = _cluster(args)
    try:
        with locked(cluster.home, args.wait + LOCK_WAIT):
            try:
                engine.module.start(cluster, args.java)
                state = engine.module.wait_ready(cluster, args.wait)
            except ClusterError:
                engine.module.stop(cluster)
                raise
    except ClusterError as error:
        print(f"error: {args.engine}: {error}; what started was stopped", file=sys.stderr)
        return EXIT_ERROR
    print(f"{engine.module.describe(cluster, state)}; Beam's job server on "
          f"{cluster.job_endpoint}; logs in {cluster.home / 'logs'}")
    print(f'for the pipeline: [beam] runner = "{engine.runner}", job_endpoint = '
          f'"{cluster.job_endpoint}"')
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    engine, cluster = _cluster(args)
    try:
        with locked(cluster.home, LOCK_WAIT):
            stopped = engine.module.stop(cluster)
    except ClusterError as error:
        print(f"error: {args.engine}: {error}", file=sys.stderr)
        return EXIT_ERROR
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    engine, cluster = _cluster(args)
    print(f"{args.engine.capitalize()} cluster folder: {cluster.home}")
    for name in engine.module.PROCESSES:
        number = engine.module.pid(cluster, name)
        print(f"  {name}: " + (f"running (pid {number})" if number else "not running"))
    state = engine.module.overview(cluster)
    if state:
        print(f"  {engine.module.describe(cluster, state)}")
    return 0
