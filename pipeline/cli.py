"""`tfxpipe`: run the pipeline, list runs and pushed versions, write a run's HTML report, review
the schema, trace a pushed version's lineage.

Each command parses its arguments, loads the config and hands over to its package; this module
holds no pipeline logic. Exit codes (`pipeline.records.outcomes`, also in the README): 0 pushed,
3 completed but not blessed, 4 halted by data validation, 1 error, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import datetime
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from pipeline import process
from pipeline.clusters.command import add_parser as add_cluster_parsers
from pipeline.config import Config, ConfigError, load_config
from pipeline.config.sections import BEAM_MODES
from pipeline.inputs.spans import format_ranges
from pipeline.orchestration.cleanup import clear_debris, find_debris
from pipeline.orchestration.lock import (
    RootBusy,
    holder_text,
    is_locked,
    lease_text,
    output_root_lock,
    read_lease,
    release_lease,
)
from pipeline.orchestration.rollback import checked_source, rollback, rollback_lines
from pipeline.orchestration.run import run
from pipeline.records import lineage as lineage_lib
from pipeline.records.outcomes import EXIT_BUSY, EXIT_ERROR, EXIT_SIGINT, EXIT_USAGE, one_line
from pipeline.records.runs import RUN_ID_FORMAT, list_runs, list_versions
from pipeline.records.store_check import StoreError, check_store
from pipeline.review import schema_diff
from pipeline.review.command import add_parser as add_report_parser
from pipeline.scheduling.command import add_parser as add_airflow_parser

DEFAULT_CONFIG = "pipeline/configs/taxi.toml"


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    """The config with the run's command-line overrides (each checked as the file's are)."""
    beam, data, spans, settings = config.beam, config.data, config.spans, config.pipeline
    if args.beam_mode:
        beam = dataclasses.replace(beam, direct_running_mode=args.beam_mode)
    if args.workers is not None:
        beam = dataclasses.replace(beam, direct_num_workers=args.workers)
    if args.sample_rows is not None:
        data = dataclasses.replace(data, sample_rows=args.sample_rows)
    for name, minimum, what in (("span", 1, "a span number >= 1"),
                                ("window", 1, "at least 1 span"),
                                ("parallel", 1, "at least 1 component")):
        value = getattr(args, name, None)
        if value is not None and value < minimum:
            raise ConfigError(f"--{name} must be {what}, got {value}")
    if args.span is not None:
        spans = dataclasses.replace(spans, span=args.span)
    if args.window is not None:
        spans = dataclasses.replace(spans, window=args.window)
    if args.parallel is not None:
        settings = dataclasses.replace(settings, parallel_components=args.parallel)
    tuning = config.tuning
    if getattr(args, "tune", False):
        if not tuning.space.names:
            raise ConfigError(f"--tune: {Path(config.config_path).name} has no [tuning.space] "
                              "to search; add one (docs/configuration.md, [tuning])")
        tuning = dataclasses.replace(tuning, enabled=True)
    return dataclasses.replace(config, pipeline=settings, beam=beam, data=data, spans=spans,
                               tuning=tuning)


def cmd_run(args: argparse.Namespace) -> int:
    """Runs the pipeline end to end (pipeline/orchestration/run.py)."""
    return run(_apply_overrides(load_config(args.config, args.output_root), args), args.verbose,
               wait=not args.no_wait)


def cmd_doctor(args: argparse.Namespace) -> int:
    """What killed runs left (stale executions, temp folders, unrecorded pushes); --repair
    clears it, with the output root's lock."""
    config = load_config(args.config, args.output_root)
    check_store(config)
    lease = read_lease(config.output_root)
    if lease and args.release_lease:
        release_lease(config.output_root)
        print(f"released the lease of {lease_text(lease)}")
    elif lease:
        raise RootBusy(f"the output root {config.output_root} is leased to {lease_text(lease)}: "
                       "its executions are not stale. If that run is no longer running (its DAG "
                       "run ended without its finish task), release it with 'tfxpipe doctor "
                       "--release-lease'")
    if is_locked(config.output_root):
        raise RootBusy(f"the output root {config.output_root} is in use by "
                       f"{holder_text(config.output_root)}: its executions are not stale; run "
                       "'tfxpipe doctor' when it has ended")
    debris = find_debris(config)
    if config.metadata_path.is_file():
        print(f"store: {config.metadata_path} matches {config.pipeline_root}")
    else:
        print(f"store: none yet (no run has recorded anything under {config.pipeline_dir})")
    if not debris:
        print("nothing left by killed runs")
        return 0
    for line in debris.lines():
        print(f"  {line}")
    if not args.repair:
        print("repair with 'tfxpipe doctor --repair' (the next 'tfxpipe run' also does)")
        return EXIT_ERROR
    with output_root_lock(config.output_root, "tfxpipe doctor --repair", wait=False):
        clear_debris(config, find_debris(config), by="tfxpipe doctor --repair")
    print("repaired")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Serves an earlier version again, as a new version (pipeline/orchestration/rollback.py)."""
    config = load_config(args.config, args.output_root)
    with output_root_lock(config.output_root, "tfxpipe rollback", not args.no_wait) as holder:
        check_store(config, locked=True)
        checked_source(config, args.to, args.reason)  # a refused rollback leaves no run
        run_id = datetime.datetime.now(datetime.timezone.utc).strftime(RUN_ID_FORMAT)
        holder(run_id)
        with process.redirected_output(config.runs_dir / run_id / "run.log", args.verbose):
            version, manifest = rollback(config, args.to, args.reason, run_id)
    for line in rollback_lines(version, manifest, config.model_dir / str(version)):
        print(line)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """Lists the runs of a pipeline (from MLMD and the runs folder) and its pushed versions."""
    config = load_config(args.config, args.output_root)
    check_store(config)
    runs, versions = list_runs(config), list_versions(config)
    if args.json:
        print(json.dumps({"runs": runs, "versions": versions}, indent=2))
        return 0
    print(f"runs of '{config.pipeline.name}' ({config.metadata_path}):")
    if not runs:
        print("  none yet: start one with 'tfxpipe run'")
    for row in runs:
        data = f"spans {format_ranges(row['spans'])}" if row.get("spans") else ""
        if row.get("backfilled_spans"):
            data += f" (backfilled {format_ranges(row['backfilled_spans'])})"
        print(f"  {row['run_id']:<26} {row['outcome']:<27} {row['detail']:<24} {data}".rstrip())
    print(f"pushed versions of '{config.pipeline.model_name}' ({config.serving_dir}):")
    if not versions:
        print("  none yet")
    for version in versions:
        print(f"  v{version['version']:<4} {version['pushed_at']:<27} run {version['run_id']}  "
              f"{version['metric']}  " + (f"rollback to v{version['rollback_of']}"
                                          if version["rollback_of"] else
                                          f"baseline v{version['baseline_version'] or '-'}"))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Infers a schema from a span and writes a readable diff against the curated one."""
    config = load_config(args.config, args.output_root)
    log_path = config.pipeline_dir / "schema_review" / "schema.log"
    with process.redirected_output(log_path, args.verbose):
        lines, folder = schema_diff.review(config, args.span, args.out)
    for line in lines:
        print(line)
    print(f"written: {folder / 'schema.inferred.pbtxt'}, {folder / 'schema.diff.txt'} "
          f"(the curated schema {config.schema.path} is unchanged)")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    """Where a pushed version came from: spans, files, schema, hyperparameters, code, baseline."""
    config = load_config(args.config, args.output_root)
    check_store(config)
    if not config.metadata_path.is_file():
        raise ConfigError(f"no metadata store at {config.metadata_path}: nothing has run yet")
    with process.redirected_output(config.pipeline_dir / "lineage.log", args.verbose,
                                   required=False):
        info = lineage_lib.lineage(config, args.version, metrics=not args.no_metrics)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
    else:
        for line in lineage_lib.render(info):
            print(line)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config (TOML)")
    parser.add_argument("--output-root", help="where runs, metadata and pushed models go "
                        "(default: the config's pipeline.output_root)")
    parser.add_argument("--verbose", action="store_true",
                        help="TensorFlow/Beam logs and tracebacks on the terminal")


def _run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the pipeline end to end")
    _common(run)
    run.add_argument("--beam-mode", choices=BEAM_MODES,
                     help="Beam DirectRunner running mode (default from config)")
    run.add_argument("--workers", type=int, help="Beam direct_num_workers (0 = all cores)")
    run.add_argument("--sample-rows", type=int,
                     help="use only the first N rows of the data (quick runs)")
    run.add_argument("--span", type=int,
                     help="process span N instead of the newest (backfill, replay)")
    run.add_argument("--window", type=int,
                     help="train on the last K spans ending at the processed one "
                          "(default from config 'spans.window'; 1 = that span only)")
    run.add_argument("--parallel", type=int,
                     help="components run at once where the pipeline graph allows (default "
                          "from config 'pipeline.parallel_components'; 1 = one at a time)")
    run.add_argument("--tune", action="store_true",
                     help="search hyperparameters with the Tuner before training (turns "
                          "[tuning] on; its space and budget come from the config)")
    _no_wait(run)
    run.set_defaults(func=cmd_run)


def _no_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true",
                        help="exit at once (code 5) when another run holds the output root, "
                             "instead of waiting for it")


def _repair_parsers(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser("doctor", help="check the metadata store against the pipeline root "
                            "and find what killed runs left; --repair clears it")
    _common(doctor)
    doctor.add_argument("--repair", action="store_true",
                        help="mark stale executions failed, remove temp folders, record pushes "
                             "ML Metadata missed")
    doctor.add_argument("--release-lease", action="store_true",
                        help="release the output root from a scheduled (Airflow) run that ended "
                             "without its finish task")
    doctor.set_defaults(func=cmd_doctor)
    back = sub.add_parser("rollback", help="serve an earlier pushed version again (pushed as a "
                          "new version, recorded as a rollback)")
    _common(back)
    back.add_argument("--to", type=int, required=True, help="the version to serve again")
    back.add_argument("--reason", required=True, help="why (recorded in the manifest and ML "
                      "Metadata)")
    _no_wait(back)
    back.set_defaults(func=cmd_rollback)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfxpipe", description="Config-driven TFX pipeline on Apache Beam.",
        epilog="exit codes: 0 pushed, 3 not blessed, 4 halted by data validation, 1 error, "
               "2 bad configuration, 5 output root busy (--no-wait), 130/143 stopped by "
               "SIGINT/SIGTERM")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    runs = sub.add_parser("runs", help="list runs and pushed versions")
    _common(runs)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs.set_defaults(func=cmd_runs)
    add_report_parser(sub, _common)
    schema = sub.add_parser("schema", help="infer a schema from a span and diff it against the "
                            "curated schema (which is never changed)")
    _common(schema)
    schema.add_argument("--span", type=int, help="the span to infer from (default: the newest)")
    schema.add_argument("--out", help="folder for schema.inferred.pbtxt and schema.diff.txt "
                        "(default: <output root>/<pipeline>/schema_review/span-<N>/)")
    schema.set_defaults(func=cmd_schema)
    lineage = sub.add_parser("lineage", help="where a pushed version came from: spans, files, "
                             "schema, hyperparameters, code, baseline (from ML Metadata)")
    _common(lineage)
    lineage.add_argument("--version", type=int, help="the pushed version (default: the newest)")
    lineage.add_argument("--json", action="store_true", help="machine-readable output")
    lineage.add_argument("--no-metrics", action="store_true",
                         help="skip reading the evaluation (faster: no TensorFlow)")
    lineage.set_defaults(func=cmd_lineage)
    _repair_parsers(sub)
    add_airflow_parser(sub, _common)
    add_cluster_parsers(sub, _common)
    return parser


def main(argv: list[str] | None = None) -> int:
    process.set_up()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RootBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUSY
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Exception as error:  # anything unexpected: one line, the trace only with --verbose
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {one_line(error)} (rerun with --verbose for the trace)", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """The `tfxpipe` console script: `main`, then exit without tearing down the interpreter.

    With TensorFlow, TFX and Beam loaded, Python's own shutdown (freeing every module and
    object one by one) takes about a second after the work is done. Exit handlers still run
    and every stream is flushed first; only that teardown is skipped.
    """
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
