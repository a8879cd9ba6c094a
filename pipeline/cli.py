"""`tfxpipe`: run the pipeline, list runs and pushed versions, write a run's HTML report.

Exit codes (also in the README): 0 pushed, 3 completed but not blessed, 4 halted by data
validation, 1 error, 2 bad configuration or usage.
"""

from __future__ import annotations

import os
import sys

# Before anything imports TensorFlow, in this process and the Beam workers it starts: the stock
# TFX 1.16 Trainer needs Keras 2 (tf-keras), and TFMOT does too.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
# Keras imports matplotlib when it is installed (the review extra): its cache goes into the
# environment, not $HOME.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "var", "matplotlib"))

import argparse  # noqa: E402
import atexit  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

from pipeline.config import BEAM_MODES, Config, ConfigError, load_config  # noqa: E402
from pipeline.logs import Terminal, redirected_output  # noqa: E402
from pipeline.review.command import add_parser as add_report_parser  # noqa: E402
from pipeline.review.command import report_after_run  # noqa: E402
from pipeline.summary import (  # noqa: E402
    EXIT_DATA_HALT,
    EXIT_ERROR,
    EXIT_NOT_BLESSED,
    EXIT_PUSHED,
    EXIT_USAGE,
    OUTCOMES,
    build_summary,
    render,
    write_summary,
)

DEFAULT_CONFIG = "pipeline/configs/taxi.toml"


def code_revision(project_root: str) -> dict[str, object]:
    """The git commit of the project (None outside a checkout) and whether the tree is dirty."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", project_root, *args], capture_output=True,
                                  text=True, check=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "dirty": bool(status)}


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    from dataclasses import replace

    beam = config.beam
    if args.beam_mode:
        beam = replace(beam, direct_running_mode=args.beam_mode)
    if args.workers is not None:
        beam = replace(beam, direct_num_workers=args.workers)
    data = config.data
    if args.sample_rows is not None:
        data = replace(data, sample_rows=args.sample_rows)
    spans = config.spans
    if getattr(args, "span", None) is not None:
        if args.span < 1:
            raise ConfigError(f"--span must be a span number >= 1, got {args.span}")
        spans = replace(spans, span=args.span)
    if getattr(args, "window", None) is not None:
        if args.window < 1:
            raise ConfigError(f"--window must be at least 1 span, got {args.window}")
        spans = replace(spans, window=args.window)
    settings = config.pipeline
    if getattr(args, "parallel", None) is not None:
        if args.parallel < 1:
            raise ConfigError(f"--parallel must be at least 1 component, got {args.parallel}")
        settings = replace(settings, parallel_components=args.parallel)
    return replace(config, pipeline=settings, beam=beam, data=data, spans=spans)


def cmd_run(args: argparse.Namespace) -> int:
    config = _apply_overrides(load_config(args.config, args.output_root), args)
    # tf-keras writes keras.json into ~/.keras on import unless KERAS_HOME says otherwise:
    # keep it under the output root, with everything else the run writes.
    os.environ.setdefault("KERAS_HOME", str(config.output_root / ".keras"))
    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = config.runs_dir / run_id
    log_path = run_dir / "run.log"
    print(f"run {run_id}: pipeline '{config.pipeline.name}' ({Path(config.config_path).name}), "
          f"Beam {config.beam.runner}/{config.beam.direct_running_mode}")
    print(f"log: {log_path}")
    with redirected_output(log_path, args.verbose) as terminal:
        outcome, summary = _run(config, run_id, terminal, args.verbose, log_path)
    summary["outcome"] = OUTCOMES[outcome]
    summary["exit_code"] = outcome
    summary["log"] = str(log_path)
    write_summary(run_dir, summary)
    for line in render(summary, outcome):
        print(line, flush=True)
    print(f"report: {report_after_run(config, run_id, log_path, args.verbose)}")
    return outcome


def _run(config: Config, run_id: str, terminal: Terminal, verbose: bool, log_path: Path
         ) -> tuple[int, dict]:
    from pipeline.data import prepare_input
    from pipeline.preflight import DataInputError

    try:
        data = prepare_input(config)
    except DataInputError as error:  # unreadable input: halted before TFX starts
        terminal.line(f"halted before the pipeline: {error}")
        return EXIT_DATA_HALT, {"run_id": run_id, "pipeline": config.pipeline.name,
                                "config": config.config_path, "components": [],
                                "anomalies": error.rows, "halted_by": "pre-flight check"}
    terminal.line(_data_line(data))
    for row in data.reported:
        terminal.line(f"  note: span {row['span']}: {row['description']}")
    from pipeline.node_worker import node_workers

    # Workers start once a component does real work (a run served from cache needs none), or
    # at once on a new output root, where nothing can be: their imports overlap this process's.
    with node_workers(config.pipeline.parallel_components - 1, quiet_logging=not verbose,
                      start_now=not config.metadata_path.exists()) as workers:
        return _run_pipelines(config, data, run_id, terminal, verbose, log_path, workers)


def _run_pipelines(config: Config, data, run_id: str, terminal: Terminal, verbose: bool,
                   log_path: Path, workers: list) -> tuple[int, dict]:
    """The backfill's pipeline runs, then the run's own."""
    # TensorFlow and TFX load here, with their output already going to the log file.
    from components.data_gate import DataValidationError
    from pipeline.backfill import backfill_for_run
    from pipeline.mlmd import open_store, run_nodes
    from pipeline.pipeline import create_pipeline
    from pipeline.runner import NodeResult, ProgressRunner, caused_by, local_slots

    revision = code_revision(config.project_root)
    slots = local_slots(workers)
    backfill = backfill_for_run(config, data, run_id, revision, terminal.line, slots)
    if backfill.halt == "data":
        return EXIT_DATA_HALT, backfill.summary
    if backfill.halt == "error":
        terminal.line(f"error: {backfill.summary['error']} (full trace in {log_path})")
        return EXIT_ERROR, backfill.summary

    # On a terminal, a last line names the components running now and is overwritten as they
    # end; in a log or pipe, only results.
    interactive = terminal.stream.isatty()
    running: list[str] = []

    def show_running() -> None:
        if interactive and running:
            terminal.stream.write(f"  running: {', '.join(running)} ...")
            terminal.stream.flush()

    def on_start(node_id: str) -> None:
        running.append(node_id)
        if interactive:
            terminal.stream.write("\r\x1b[K")
        show_running()

    def on_finish(result: NodeResult) -> None:
        running.remove(result.node_id)
        start = "\r\x1b[K" if interactive else ""
        terminal.line(f"{start}  {result.node_id:<32} {result.state.lower():<10} "
                      f"{result.seconds:7.1f} s")
        show_running()

    pipeline = create_pipeline(config, data, revision)
    failure: BaseException | None = None
    started = time.monotonic()
    try:
        ProgressRunner(run_id, on_start, on_finish, slots).run(pipeline)
    except Exception as error:  # reported below with the component that failed
        failure = error
        if verbose:
            traceback.print_exc()
        else:
            traceback.print_exc(file=sys.stderr)  # into the log file

    nodes = run_nodes(open_store(config.metadata_path), config.pipeline.name, run_id)
    summary = build_summary(config, run_id, nodes)
    summary["data_files"] = [f.as_dict() for f in data.files]
    summary["spans"] = [s.as_dict() for s in data.spans]
    summary["drift"] = backfill.drift + summary.get("drift", [])
    summary["backfilled_spans"] = backfill.spans
    summary["backfill_seconds"] = round(backfill.seconds, 1)
    summary["pipeline_seconds"] = round(time.monotonic() - started, 1)  # the run's own nodes
    if failure is None:
        return (EXIT_PUSHED if summary.get("pushed") else EXIT_NOT_BLESSED), summary
    if caused_by(failure, DataValidationError):
        return EXIT_DATA_HALT, summary
    failed = next((n.node_id for n in nodes.values() if n.state == "FAILED"), "the pipeline")
    summary["error"] = f"{failed} failed: {_one_line(failure)}"
    terminal.line(f"error: {summary['error']} (full trace in {log_path})")
    return EXIT_ERROR, summary


def _data_line(data) -> str:
    selection = data.selection
    window = selection.window
    from pipeline.spans import format_ranges as _ranges

    text = (f"data: span {selection.target}"
            + (f", window {_ranges(window)} ({len(window)} span(s))" if len(window) > 1 else "")
            + f": {data.rows} rows in {len(data.files)} file(s) under {data.input_base}")
    return text


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:300]


def cmd_runs(args: argparse.Namespace) -> int:
    """Lists the runs of a pipeline (from MLMD and the runs folder) and its pushed versions."""
    from pipeline.spans import format_ranges
    from pipeline.versions import list_runs, list_versions

    config = load_config(args.config, args.output_root)
    runs = list_runs(config)
    if args.json:
        print(json.dumps({"runs": runs, "versions": list_versions(config)}, indent=2))
        return 0
    print(f"runs of '{config.pipeline.name}' ({config.metadata_path}):")
    if not runs:
        print("  none yet: start one with 'tfxpipe run'")
    for run in runs:
        data = f"spans {format_ranges(run['spans'])}" if run.get("spans") else ""
        if run.get("backfilled_spans"):
            data += f" (backfilled {format_ranges(run['backfilled_spans'])})"
        print(f"  {run['run_id']:<26} {run['outcome']:<27} {run['detail']:<24} {data}".rstrip())
    versions = list_versions(config)
    print(f"pushed versions of '{config.pipeline.model_name}' ({config.serving_dir}):")
    if not versions:
        print("  none yet")
    for version in versions:
        print(f"  v{version['version']:<4} {version['pushed_at']:<27} run {version['run_id']}  "
              f"{version['metric']}  baseline v{version['baseline_version'] or '-'}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Infers a schema from a span and writes a readable diff against the curated one."""
    from pipeline.schema_review import review

    config = load_config(args.config, args.output_root)
    log_path = config.output_root / config.pipeline.name / "schema_review" / "schema.log"
    with redirected_output(log_path, args.verbose):
        lines, folder = review(config, args.span, args.out)
    for line in lines:
        print(line)
    print(f"written: {folder / 'schema.inferred.pbtxt'}, {folder / 'schema.diff.txt'} "
          f"(the curated schema {config.schema.path} is unchanged)")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    """Where a pushed version came from: spans, files, schema, hyperparameters, code, baseline."""
    from pipeline.lineage import lineage, render

    config = load_config(args.config, args.output_root)
    if not config.metadata_path.is_file():
        raise ConfigError(f"no metadata store at {config.metadata_path}: nothing has run yet")
    log_path = config.output_root / config.pipeline.name / "lineage.log"
    with redirected_output(log_path, args.verbose):
        info = lineage(config, args.version, metrics=not args.no_metrics)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
    else:
        for line in render(info):
            print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfxpipe", description="Config-driven TFX pipeline on Apache Beam.",
        epilog="exit codes: 0 pushed, 3 not blessed, 4 halted by data validation, 1 error, "
               "2 bad configuration")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline config (TOML)")
        p.add_argument("--output-root", help="where runs, metadata and pushed models go "
                       "(default: the config's pipeline.output_root)")
        p.add_argument("--verbose", action="store_true",
                       help="TensorFlow/Beam logs and tracebacks on the terminal")

    run = sub.add_parser("run", help="run the pipeline end to end")
    common(run)
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
    run.set_defaults(func=cmd_run)

    runs = sub.add_parser("runs", help="list runs and pushed versions")
    common(runs)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs.set_defaults(func=cmd_runs)

    add_report_parser(sub, common)

    schema = sub.add_parser("schema", help="infer a schema from a span and diff it against the "
                            "curated schema (which is never changed)")
    common(schema)
    schema.add_argument("--span", type=int, help="the span to infer from (default: the newest)")
    schema.add_argument("--out", help="folder for schema.inferred.pbtxt and schema.diff.txt "
                        "(default: <output root>/<pipeline>/schema_review/span-<N>/)")
    schema.set_defaults(func=cmd_schema)

    lineage = sub.add_parser("lineage", help="where a pushed version came from: spans, files, "
                             "schema, hyperparameters, code, baseline (from ML Metadata)")
    common(lineage)
    lineage.add_argument("--version", type=int, help="the pushed version (default: the newest)")
    lineage.add_argument("--json", action="store_true", help="machine-readable output")
    lineage.add_argument("--no-metrics", action="store_true",
                         help="skip reading the evaluation (faster: no TensorFlow)")
    lineage.set_defaults(func=cmd_lineage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # anything unexpected: one line, the trace only with --verbose
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {_one_line(error)} (rerun with --verbose for the trace)", file=sys.stderr)
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
