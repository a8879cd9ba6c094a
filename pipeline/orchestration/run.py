"""One run of the pipeline, top to bottom: `tfxpipe run` calls `run`.

1. inputs: materialise the data if needed, select the target span and its window, check every
   file before TensorFlow starts (`pipeline.inputs`); an unusable file halts here (exit 4);
2. backfill: ingest and validate the window's spans that ML Metadata has not validated yet
   (`backfill.py`); a span that fails its gates halts here (exit 4);
3. the run's own pipeline, built from the config (`pipeline.dag`), run node by node on this
   process and a worker process (`runner.py`, `workers.py`);
4. the record: the summary read back from ML Metadata (`pipeline.records`), written to the run's
   folder and printed, and the HTML report (`pipeline.review`).

Everything TensorFlow, TFX and Beam print goes to the run's log, not the terminal, unless
`verbose`.
"""

from __future__ import annotations

import datetime
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import process
from pipeline.config import Config
from pipeline.inputs.preflight import DataInputError
from pipeline.inputs.prepare import InputData, prepare_input
from pipeline.inputs.spans import format_ranges
from pipeline.orchestration.cleanup import clear_debris, find_debris
from pipeline.orchestration.job_server import check_job_server
from pipeline.orchestration.lock import output_root_lock
from pipeline.orchestration.stopping import Stopped, signals_ignored, stop_on_signals
from pipeline.orchestration.workers import died_in, node_workers
from pipeline.process import Terminal, redirected_output
from pipeline.records.outcomes import (
    EXIT_DATA_HALT,
    EXIT_ERROR,
    EXIT_NOT_BLESSED,
    EXIT_PUSHED,
    OUTCOMES,
    one_line,
    write_summary,
)
from pipeline.records.render import render
from pipeline.records.runs import RUN_ID_FORMAT, known_runs
from pipeline.records.store_check import check_store
from pipeline.review.command import report_after_run


def run(config: Config, verbose: bool = False, wait: bool = True) -> int:
    """Runs the pipeline once, holding the output root's lock (waiting for it, or RootBusy
    without `wait`); prints progress, the summary and the report's path; returns the exit code
    (see `pipeline.records.outcomes`). Raises StoreError, before anything is written, when the
    metadata store does not match the pipeline root, and ConfigError when the runner's job
    server does not answer."""
    process.set_up(keras_home=config.output_root / ".keras")
    check_job_server(config)
    with output_root_lock(config.output_root, "tfxpipe run", wait) as record_holder:
        return _locked_run(config, start_locked(config, record_holder, print), verbose)


def start_locked(config: Config, record_holder: Callable[[str], None],
                 say: Callable[[str], None]) -> str:
    """With the output root's lock held: the store checked, a new run id (recorded as the
    lock's holder), what killed runs left cleaned up; the run id."""
    check_store(config, locked=True)
    run_id = datetime.datetime.now(datetime.timezone.utc).strftime(RUN_ID_FORMAT)
    record_holder(run_id)
    debris = find_debris(config)
    if debris:
        clear_debris(config, debris, by=f"run {run_id}")
        say(f"cleaned up after a run that was killed: {debris.cleared_text()}")
    return run_id


def _locked_run(config: Config, run_id: str, verbose: bool) -> int:
    run_dir = config.runs_dir / run_id
    log_path = run_dir / "run.log"
    beam = config.beam
    runner = (f"{beam.runner}/{beam.direct_running_mode}" if beam.runner == "DirectRunner"
              else f"{beam.runner} at {beam.job_endpoint}")
    print(f"run {run_id}: pipeline '{config.pipeline.name}' ({Path(config.config_path).name}), "
          f"Beam {runner}")
    print(f"log: {log_path}")
    try:
        with stop_on_signals(), redirected_output(log_path, verbose) as terminal:
            outcome, summary = _execute(config, run_id, terminal, verbose, log_path)
    except Stopped as stop:
        with signals_ignored():
            with redirected_output(log_path, verbose) as terminal:  # ML Metadata's logging
                summary = _stopped(config, run_id, stop, terminal.line)
            return record_run(config, run_id, stop.exit_code, summary, verbose)
    return record_run(config, run_id, outcome, summary, verbose)


def record_run(config: Config, run_id: str, outcome: int, summary: dict[str, Any],
               verbose: bool) -> int:
    """Writes the summary and the report, prints them; returns the exit code."""
    run_dir = config.runs_dir / run_id
    log_path = run_dir / "run.log"
    summary.update(outcome=OUTCOMES[outcome], exit_code=outcome, log=str(log_path))
    write_summary(run_dir, summary)
    for line in render(summary, outcome):
        print(line, flush=True)
    print(f"report: {report_after_run(config, run_id, log_path, verbose)}")
    return outcome


def _execute(config: Config, run_id: str, terminal: Terminal, verbose: bool, log_path: Path
             ) -> tuple[int, dict[str, Any]]:
    """Steps 1 to 3; the exit code and the summary so far."""
    data, halted = prepare_data(config, run_id, terminal.line)
    if halted is not None:
        return halted
    # Workers start once a component does real work (a run served from cache needs none), or
    # at once on a new output root, where nothing can be: their imports overlap this process's.
    with node_workers(config.pipeline.parallel_components - 1, quiet_logging=not verbose,
                      start_now=not config.metadata_path.exists()) as workers:
        return _run_pipelines(config, data, run_id, terminal, log_path, workers)


def prepare_data(config: Config, run_id: str, say: Callable[[str], None]
                 ) -> tuple[InputData | None, tuple[int, dict[str, Any]] | None]:
    """Step 1: the input data, or the outcome and summary of a run halted by unusable files."""
    try:
        data = prepare_input(config)
    except DataInputError as error:  # unreadable input: halted before TFX starts
        say(f"halted before the pipeline: {error}")
        return None, (EXIT_DATA_HALT, {"run_id": run_id, "pipeline": config.pipeline.name,
                                       "config": config.config_path, "components": [],
                                       "anomalies": error.rows,
                                       "halted_by": "pre-flight check"})
    say(_data_line(data))
    if config.metrics_added:
        say(f"  note: [evaluation] metrics leaves out {', '.join(config.metrics_added)}, "
            f"evaluated anyway: slices are ranked by {config.ranking_metric} among those with "
            "enough examples")
    for row in data.reported:
        say(f"  note: span {row['span']}: {row['description']}")
    return data, None


def run_backfill(config: Config, data: InputData, run_id: str, slots: list,
                 say: Callable[[str], None], log_path: Path
                 ) -> tuple[Any, Any, tuple[int, dict[str, Any]] | None]:
    """Step 2: the run's Pipelines, its Backfill, and the outcome and summary of a backfill
    that halted (None when the run goes on)."""
    from pipeline.dag.pipelines import Pipelines
    from pipeline.orchestration.backfill import Backfill
    from pipeline.orchestration.packages import build_worker_packages

    build_worker_packages(config, say)  # a PortableRunner's; before any Beam job names them
    pipelines = Pipelines(config, data, code_revision(config.project_root))
    backfill = Backfill(pipelines, run_id, slots, say).run()
    if backfill.halt == "data":
        return pipelines, backfill, (EXIT_DATA_HALT, backfill.summary)
    if backfill.halt == "error":
        say(f"error: {backfill.summary['error']} (full trace in {log_path})")
        return pipelines, backfill, (EXIT_ERROR, backfill.summary)
    return pipelines, backfill, None


def _run_pipelines(config: Config, data: InputData, run_id: str, terminal: Terminal,
                   log_path: Path, workers: list) -> tuple[int, dict[str, Any]]:
    """The backfill's pipeline runs, then the run's own, then its summary."""
    # TensorFlow and TFX load here, with their output already going to the run's log.
    from components.data_gate import DataValidationError
    from pipeline.orchestration.backfill import run_pipeline
    from pipeline.orchestration.progress import ProgressLines
    from pipeline.orchestration.runner import ProgressRunner, caused_by, local_slots
    from pipeline.records.summary import build_summary

    slots = local_slots(workers)
    pipelines, backfill, halted = run_backfill(config, data, run_id, slots, terminal.line,
                                               log_path)
    if halted is not None:
        return halted
    progress = ProgressLines(terminal)
    started = time.monotonic()
    own = run_pipeline(pipelines, run_id, pipelines.full(),
                       ProgressRunner(slots, progress.on_start, progress.on_finish))
    summary = build_summary(config, run_id, own.nodes)
    summary.update(data_record(config, data, backfill),
                   drift=backfill.drift + summary.get("drift", []),
                   pipeline_seconds=round(time.monotonic() - started, 1))  # its own nodes
    if own.failure is None:
        return (EXIT_PUSHED if summary.get("pushed") else EXIT_NOT_BLESSED), summary
    if caused_by(own.failure, DataValidationError):
        return EXIT_DATA_HALT, summary
    failed = next((n.node_id for n in own.nodes.values() if n.state == "FAILED"),
                  "the pipeline")
    summary["error"] = f"{failed} failed: {one_line(own.failure, died_in(own.failure, log_path))}"
    terminal.line(f"error: {summary['error']} (full trace in {log_path})")
    return EXIT_ERROR, summary


def data_record(config: Config, data: InputData, backfill: Any) -> dict[str, Any]:
    """What a run's summary says of its data and its backfill."""
    return {"gate": _gate_text(config, data), "data_files": [f.as_dict() for f in data.files],
            "spans": [s.as_dict() for s in data.spans], "drift": list(backfill.drift),
            "backfilled_spans": backfill.spans, "backfill_seconds": round(backfill.seconds, 1)}


def _stopped(config: Config, run_id: str, stop: Stopped, say: Callable[[str], None]
             ) -> dict[str, Any]:
    """The summary of a run a signal stopped: what ML Metadata holds of it, its unfinished
    executions marked failed (the worker processes have ended by now)."""
    debris = find_debris(config)
    running = sorted({s.node for s in debris.stale})
    clear_debris(config, debris, by=f"run {run_id} when {stop.name} stopped it")
    say(f"stopped by {stop.name}" + (f" while {', '.join(running)} ran (marked failed)"
                                     if running else ""))
    summary: dict[str, Any] = {"run_id": run_id, "pipeline": config.pipeline.name,
                               "config": config.config_path, "components": []}
    if any(r.run_id == run_id for r in known_runs(config) if r.pipeline_runs):
        from pipeline.review.runs import open_run  # TFX is loaded by now: a pipeline ran

        summary = open_run(config, run_id=run_id).summary
    summary["error"] = (f"stopped by {stop.name}"
                        + (f" while {', '.join(running)} ran" if running else ""))
    return summary


def _gate_text(config: Config, data: InputData) -> str | None:
    """What blesses a model when the config sets no threshold: beating the naive predictor."""
    naive = data.label.naive() if data.label is not None else None
    if config.evaluation.thresholds or naive is None:
        return None
    return (f"no threshold is configured: the model must beat the naive predictor, "
            f"{naive[2]}, on {naive[0]}")


def _data_line(data: InputData) -> str:
    window = data.selection.window
    return (f"data: span {data.selection.target}"
            + (f", window {format_ranges(window)} ({len(window)} span(s))"
               if len(window) > 1 else "")
            + f": {data.rows} rows in {len(data.files)} file(s) under {data.input_base}"
            + ("" if data.delimiter == "," else f", delimiter {data.delimiter!r}"))


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
