"""What each task of a scheduled run does; Airflow calls these with the task's context.

    wait_for_span -> prepare -> one task per TFX node (in the pipeline's order) -> finish

- `span_arrived` (the sensor): whether the files of the interval's span are there. A run whose
  span has not arrived waits, then fails in one line: it never trains on older data.
- `prepare`: as `tfxpipe run` before its pipeline: takes the output root's lock, checks the
  store, cleans up after killed runs, takes the lease for the whole scheduled run, checks the
  files, backfills the window, and compiles the run's pipeline (its span, its run id) into
  `<run folder>/pipeline.pb`.
- `run_node`: launches one node of that compiled pipeline with TFX's portable launcher, as
  `tfxpipe run` does: ML Metadata, the cache, the resolvers and the gates behave the same.
- `finish` (runs whatever happened upstream): the summary and the report of the run, the lease
  released, and the outcome: pushed ends in success; not blessed and halted by the data gates
  end as *skipped* with the reason; an error fails with its one line.

TensorFlow and TFX are imported inside the functions: the DAG file imports this module.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowFailException, AirflowSkipException

from components.shared.files import to_json, write_atomically
from pipeline import process
from pipeline.config import Config, load_config
from pipeline.inputs.sources import input_location
from pipeline.inputs.spans import discover, span_path
from pipeline.orchestration.lock import (
    output_root_lock,
    read_lease,
    release_lease,
    take_lease,
)
from pipeline.records.outcomes import (
    EXIT_DATA_HALT,
    EXIT_ERROR,
    EXIT_NOT_BLESSED,
    EXIT_PUSHED,
)
from pipeline.scheduling.intervals import span_for_interval, utc
from pipeline.scheduling.spec import DagSpec

IR_FILE = "pipeline.pb"
STATE_FILE = "scheduled.json"  # what prepare learnt, for finish
NODES_DIR = "nodes"            # one JSON per node task: its state and error


def say(line: str) -> None:
    print(line, flush=True)  # Airflow's task log


def run_config(spec: DagSpec, interval_start: Any) -> Config:
    """The config of the run of the interval starting at `interval_start`: its span."""
    config = load_config(spec.config_path, spec.output_root)
    span = span_for_interval(config.schedule, interval_start)
    return dataclasses.replace(config, spans=dataclasses.replace(config.spans, span=span))


def _owner(spec: DagSpec, airflow_run_id: str) -> str:
    return f"{spec.dag_id}/{airflow_run_id}"


# ---------------------------------------------------------------------------------------------
# wait_for_span


def span_arrived(spec_path: str, data_interval_start: Any, **_: Any) -> bool:
    """Whether the span of this interval has files (the sensor's check; no TensorFlow)."""
    span, found, where = _span_files(run_config(DagSpec.read(spec_path), data_interval_start))
    say(f"span {span}: " + ("its files are there" if found else f"no files yet at {where}"))
    return found


def missing_span_text(spec_path: str, data_interval_start: Any, waited_seconds: float) -> str:
    span, _, where = _span_files(run_config(DagSpec.read(spec_path), data_interval_start))
    waited = (f"{waited_seconds / 60:.0f} min" if waited_seconds >= 120
              else f"{waited_seconds:.0f} s")
    return (f"span {span} (the interval starting {utc(data_interval_start).isoformat()}) has "
            f"not arrived after {waited}: no files match {where}; nothing was trained. Add its "
            "files and clear this task, or mark the run skipped")


def _span_files(config: Config) -> tuple[int, bool, Path]:
    """The run's span, whether it has files, and where they are looked for."""
    span = config.spans.span
    base, pattern = input_location(config)
    return span, span in discover(base, pattern), Path(base) / span_path(pattern, span)


# ---------------------------------------------------------------------------------------------
# prepare


def prepare(spec_path: str, data_interval_start: Any, run_id: str, ti: Any, **_: Any) -> str:
    """The run's set-up (see the module docstring); returns the pipeline run id."""
    spec = DagSpec.read(spec_path)
    config = run_config(spec, data_interval_start)
    process.set_up(keras_home=config.output_root / ".keras")
    owner = _owner(spec, run_id)
    lease = read_lease(config.output_root)
    stale = lease["owner"] if lease and str(lease.get("owner")).startswith(f"{spec.dag_id}/") \
        else owner  # with max_active_runs=1, an earlier run of this DAG has ended
    with output_root_lock(config.output_root, f"Airflow {owner}", wait=True, say=say,
                          lease_owner=stale) as record_holder:
        if stale != owner:
            say(f"taking over the lease of {stale}, which ended without its finish task")
        pipeline_run_id = _start(config, owner, record_holder)
        ti.xcom_push(key="run_id", value=pipeline_run_id)
        _prepare_locked(config, spec, spec_path, pipeline_run_id)
    return pipeline_run_id


def _start(config: Config, owner: str, record_holder: Any) -> str:
    from pipeline.orchestration.run import start_locked

    run_id = start_locked(config, record_holder, say)
    take_lease(config.output_root, owner, f"Airflow run {owner}", run_id)
    say(f"run {run_id}: pipeline '{config.pipeline.name}', span {config.spans.span}")
    return run_id


def _prepare_locked(config: Config, spec: DagSpec, spec_path: str, run_id: str) -> None:
    from pipeline.orchestration.run import data_record, prepare_data, run_backfill
    from pipeline.orchestration.runner import local_slots

    run_dir = config.runs_dir / run_id
    data, halted = prepare_data(config, run_id, say)
    if halted is None:
        pipelines, backfill, halted = run_backfill(config, data, run_id, local_slots(), say,
                                                   run_dir / "run.log")
    if halted is not None:
        _save(run_dir / STATE_FILE, {"halted": list(halted)})
        if halted[0] == EXIT_DATA_HALT:
            raise AirflowSkipException("halted by data validation before the pipeline: see "
                                       "the lines above; the finish task writes the report")
        raise AirflowFailException(halted[1].get("error", "the backfill failed"))
    _compile(pipelines, run_id, run_dir, spec, spec_path)
    _save(run_dir / STATE_FILE, {"record": data_record(config, data, backfill)})


def _compile(pipelines: Any, run_id: str, run_dir: Path, spec: DagSpec, spec_path: str) -> None:
    """The run's pipeline compiled with its run id, for the node tasks; the spec rewritten
    (and this run failed) when its nodes are not the DAG's."""
    from tfx.dsl.compiler import compiler, constants
    from tfx.orchestration.portable import runtime_parameter_utils

    from pipeline.scheduling.spec import node_graph

    ir = compiler.Compiler().compile(pipelines.full())
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    nodes = node_graph(ir)
    if nodes != spec.nodes:
        dataclasses.replace(spec, nodes=nodes).write(spec_path)
        raise AirflowFailException(
            "the pipeline's components changed since the DAG was written (config or code): "
            f"{spec_path} is updated; once Airflow has parsed the DAG again, clear this run")
    write_atomically(run_dir / IR_FILE, ir.SerializeToString())


def _save(path: Path, content: dict[str, Any]) -> None:
    write_atomically(path, to_json(content))


# ---------------------------------------------------------------------------------------------
# one node


def run_node(spec_path: str, node_id: str, data_interval_start: Any, ti: Any,
             **_: Any) -> None:
    """Launches node `node_id` of the run's compiled pipeline (TFX's portable launcher)."""
    spec = DagSpec.read(spec_path)
    config = run_config(spec, data_interval_start)
    process.set_up(keras_home=config.output_root / ".keras")
    run_id = ti.xcom_pull(task_ids="prepare", key="run_id")
    lease = read_lease(config.output_root)
    if not lease or lease.get("run_id") != run_id:
        raise AirflowFailException(
            f"run {run_id} no longer holds the output root's lease (it is held by "
            f"{(lease or {}).get('holder', 'nobody')}): clear this DAG run from its prepare task")
    run_dir = config.runs_dir / run_id
    _save(run_dir / NODES_DIR / f"{node_id}.json", {"state": "RUNNING"})
    error, halted = _launch(config, run_dir, node_id)
    _save(run_dir / NODES_DIR / f"{node_id}.json",
          {"state": "HALTED" if halted else "FAILED" if error else "COMPLETE", "error": error})
    if halted:
        raise AirflowSkipException(f"halted by data validation: {error}")
    if error:
        raise AirflowFailException(f"{node_id} failed: {error}")


def _launch(config: Config, run_dir: Path, node_id: str) -> tuple[str | None, bool]:
    """(the node's one-line error or None, whether the data gates halted it)."""
    from components.data_gate import DataValidationError
    from pipeline.orchestration.runner import caused_by, launch_node
    from pipeline.records.mlmd import open_store
    from pipeline.records.outcomes import one_line

    try:
        execution_id = launch_node((run_dir / IR_FILE).read_bytes(), node_id)
    except Exception as error:  # reported in one line; the trace is in the task log above
        import traceback

        traceback.print_exc()
        return one_line(error), caused_by(error, DataValidationError)
    if execution_id is None:
        return None, False
    [execution] = open_store(config.metadata_path).get_executions_by_id([execution_id])
    if execution.last_known_state == execution.FAILED:
        return "its inputs could not be resolved or its executor failed (see above)", False
    return None, False


# ---------------------------------------------------------------------------------------------
# finish


def finish(spec_path: str, data_interval_start: Any, run_id: str, ti: Any, dag_run: Any,
           **_: Any) -> None:
    """The run's summary and report, the lease released, the outcome (module docstring)."""
    spec = DagSpec.read(spec_path)
    config = run_config(spec, data_interval_start)
    process.set_up(keras_home=config.output_root / ".keras")
    pipeline_run_id = ti.xcom_pull(task_ids="prepare", key="run_id")
    try:
        if pipeline_run_id is None:
            raise AirflowFailException(_not_started(dag_run))
        outcome, summary = _outcome(config, spec, pipeline_run_id)
        from pipeline.orchestration.run import record_run

        record_run(config, pipeline_run_id, outcome, summary, verbose=True)
    finally:
        release_lease(config.output_root, _owner(spec, run_id))
    if outcome == EXIT_ERROR:
        raise AirflowFailException(summary.get("error") or "the run failed: see its tasks")
    if outcome in (EXIT_NOT_BLESSED, EXIT_DATA_HALT):
        raise AirflowSkipException(f"{summary['outcome']}: {_reason(summary)}")


def _not_started(dag_run: Any) -> str:
    """Why a run never started its pipeline: the first of its set-up tasks that did not end."""
    for task_id in ("wait_for_span", "prepare"):
        state = dag_run.get_task_instance(task_id).state
        if state != "success":
            return f"the run did not start: {task_id} ended {state}; see its log"
    return "the run did not start: see the prepare task's log"


def _outcome(config: Config, spec: DagSpec, run_id: str) -> tuple[int, dict[str, Any]]:
    from pipeline.records.mlmd import open_store, run_nodes
    from pipeline.records.summary import build_summary

    run_dir = config.runs_dir / run_id
    state = _read(run_dir / STATE_FILE) or {}
    if "halted" in state:
        outcome, summary = state["halted"]
        return int(outcome), summary
    try:
        records = run_nodes(open_store(config.metadata_path), config.pipeline.name, run_id)
    except (KeyError, FileNotFoundError):
        records = {}
    summary = build_summary(config, run_id, records)
    record = state.get("record") or {}
    summary.update(record, drift=record.get("drift", []) + summary.get("drift", []))
    nodes = {path.stem: _read(path) or {} for path in sorted((run_dir / NODES_DIR).glob("*.json"))}
    if any(node.get("state") == "HALTED" for node in nodes.values()):
        return EXIT_DATA_HALT, summary
    failed = [name for name, node in nodes.items() if node.get("state") in ("FAILED", "RUNNING")]
    if not record:
        summary["error"] = "prepare did not finish: see its log"
    elif failed:
        detail = nodes[failed[0]].get("error")
        summary["error"] = f"{failed[0]} failed: {detail or 'its task did not finish'}"
    elif set(nodes) != set(spec.nodes):
        summary["error"] = "not every component's task ran: see the DAG run"
    if "error" in summary:
        return EXIT_ERROR, summary
    return (EXIT_PUSHED if summary.get("pushed") else EXIT_NOT_BLESSED), summary


def _reason(summary: dict[str, Any]) -> str:
    """Why a run was not blessed or halted, in a line (the summary above says it all)."""
    from pipeline.records.render import slice_name

    failures = summary.get("failed_thresholds") or []
    if failures:
        first = failures[0]
        return (f"{'change of ' if first.get('is_diff') else ''}{first['metric']} on "
                f"{slice_name(first['slice'])} is {first['value']:.4g}, required "
                f"{first['threshold']}" + (f" (and {len(failures) - 1} more)"
                                           if len(failures) > 1 else ""))
    halting = [a for a in summary.get("anomalies") or [] if a.get("severity") != "report"]
    if halting:
        first = halting[0]
        return (f"{first.get('feature')}: {first.get('kind')} ({first.get('description', '')})"
                + (f" and {len(halting) - 1} more anomalies" if len(halting) > 1 else ""))
    return "see the summary above"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
