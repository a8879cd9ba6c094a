"""The Airflow DAG of a pipeline, built from its spec (spec.py): Airflow imports only, so the DAG
file parses without TensorFlow or TFX.

    wait_for_span -> prepare -> <one task per TFX node, in the pipeline's order> -> finish

One DAG run per data interval of the config's `[schedule]`; `catchup` runs the missed ones oldest
first; one run at a time (`max_active_runs=1`), and the output root's lease keeps `tfxpipe run`
out meanwhile. What each task does: tasks.py.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow import DAG
from airflow.exceptions import AirflowFailException, AirflowSensorTimeout
from airflow.operators.python import PythonOperator
from airflow.sensors.python import PythonSensor
from airflow.utils.trigger_rule import TriggerRule

from pipeline.scheduling import tasks
from pipeline.scheduling.intervals import utc
from pipeline.scheduling.spec import DagSpec


class SpanSensor(PythonSensor):
    """Waits for the interval's span; on its timeout, one line saying which span and where."""

    def __init__(self, *, spec_path: str, **kwargs: Any):
        super().__init__(python_callable=tasks.span_arrived, op_kwargs={"spec_path": spec_path},
                         **kwargs)
        self.spec_path = spec_path

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            raise AirflowFailException(tasks.missing_span_text(
                self.spec_path, context["data_interval_start"], self.timeout)) from None


def build_dag(spec_path: str) -> DAG:
    spec = DagSpec.read(spec_path)
    schedule = spec.schedule
    dag = DAG(
        dag_id=spec.dag_id, schedule=schedule["interval"],  # a preset or a cron line
        start_date=utc(schedule["start"]),
        end_date=utc(schedule["end"]) if schedule.get("end") else None,
        catchup=bool(schedule["catchup"]), max_active_runs=1, max_active_tasks=spec.parallel,
        default_args={"retries": 0, "owner": "tfxpipe"}, tags=["tfxpipe"],
        doc_md=f"tfxpipe pipeline from `{spec.config_path}`, output root `{spec.output_root}`.",
        render_template_as_native_obj=False)
    with dag:
        wait = SpanSensor(task_id="wait_for_span", spec_path=spec_path, mode="reschedule",
                          poke_interval=float(schedule["poke_seconds"]),
                          timeout=datetime.timedelta(minutes=float(schedule["wait_minutes"])))
        prepare = _task("prepare", tasks.prepare, spec_path)
        wait >> prepare
        nodes = {node: _task(node, tasks.run_node, spec_path, node_id=node)
                 for node in spec.nodes}
        for node, upstream in spec.nodes.items():
            for parent in upstream or ():
                nodes[parent] >> nodes[node]
            if not upstream:
                prepare >> nodes[node]
        finish = _task("finish", tasks.finish, spec_path, trigger_rule=TriggerRule.ALL_DONE)
        leaves = [task for node, task in nodes.items()
                  if not any(node in up for up in spec.nodes.values())]
        (leaves or [prepare]) >> finish
    return dag


def _task(task_id: str, function: Any, spec_path: str, trigger_rule: str = TriggerRule.ALL_SUCCESS,
          **kwargs: Any) -> PythonOperator:
    return PythonOperator(task_id=task_id, python_callable=function,
                          op_kwargs={"spec_path": spec_path, **kwargs},
                          trigger_rule=trigger_rule)
