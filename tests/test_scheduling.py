"""Scheduling on Airflow, without running a pipeline: which span an interval is, the output
root's lease (a scheduled run holds the root between its tasks), the [schedule] checks, and the
DAG built from a spec (its tasks, their order, its schedule) with Airflow's own classes. The
scheduled runs themselves: tests/e2e/test_airflow.py."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config.sections import ScheduleSection
from pipeline.orchestration.lock import (
    RootBusy,
    output_root_lock,
    read_lease,
    release_lease,
    take_lease,
)
from pipeline.scheduling.intervals import span_for_interval
from pipeline.scheduling.spec import DagSpec
from tests.fixtures import PROJECT
from tests.fixtures.configs import error_of

UTC = datetime.timezone.utc


@pytest.mark.parametrize("interval, start, first, at, span", [
    ("@monthly", "2013-01-01", 1, "2013-01-01", 1),
    ("@monthly", "2013-01-01", 1, "2016-12-01T00:00:00+00:00", 48),
    ("@daily", "2024-02-27", 5, "2024-03-01", 8),             # across a leap day
    ("@weekly", "2024-01-07", 1, "2024-01-21", 3),            # Sundays
    ("30 6 * * 1-5", "2024-01-01", 1, "2024-01-08T06:30", 6),  # weekdays at 06:30
    ("@monthly", "2013-01-15", 1, "2013-02-01", 1),           # the first tick after start
])
def test_the_span_of_an_interval_counts_intervals_from_the_start(interval, start, first, at, span):
    schedule = ScheduleSection(interval=interval, start=start, first_span=first)
    assert span_for_interval(schedule, at) == span
    aware = datetime.datetime.fromisoformat(at)
    assert span_for_interval(schedule, aware if aware.tzinfo else aware.replace(tzinfo=UTC)) \
        == span


@pytest.mark.parametrize("at, message", [("2012-12-01", "before schedule.start"),
                                         ("2013-02-02", "not the start of a '@monthly'")])
def test_an_interval_off_the_schedule_is_refused(at, message):
    with pytest.raises(ValueError, match=message):
        span_for_interval(ScheduleSection(start="2013-01-01"), at)


@pytest.mark.parametrize("extra, message", [
    ('interval = "every month"', "'schedule.interval' must be one of"),
    ('interval = "0 0 1 *"', "cron expression of 5 fields"),
    ('start = "January"', "'schedule.start' must be an ISO date"),
    ('start = "2024-01-01"\nend = "2023-01-01"', "'schedule.end' must be after"),
    ("first_span = 0", "'schedule.first_span' must be a span number >= 1"),
    ("poke_seconds = 0", "'schedule.poke_seconds' >= 1"),
])
def test_a_bad_schedule_is_refused_in_one_line(toy, extra, message):
    assert message in error_of(toy(extra="\n[schedule]\n" + extra + "\n"))


# ---------------------------------------------------------------------------------------------
# The lease


def test_a_lease_keeps_other_runs_out_until_its_run_releases_it(tmp_path):
    root = tmp_path / "out"
    with output_root_lock(root, "prepare", wait=False):
        take_lease(root, "tfxpipe_p/scheduled__1", "Airflow run tfxpipe_p/scheduled__1", "R1")
    # Another holder is refused without waiting, naming the scheduled run ...
    with pytest.raises(RootBusy, match="Airflow run tfxpipe_p/scheduled__1 \\(run R1"):
        with output_root_lock(root, "tfxpipe run", wait=False):
            pass
    # ... while the run's owner passes, and nobody passes a lease of an unknown run.
    with output_root_lock(root, "prepare again", wait=False, lease_owner="tfxpipe_p/scheduled__1"):
        pass
    assert not release_lease(root, "tfxpipe_p/other")
    assert release_lease(root, "tfxpipe_p/scheduled__1") and read_lease(root) is None
    with output_root_lock(root, "tfxpipe run", wait=False):
        pass


def test_tfxpipe_run_waits_for_a_lease_then_goes_on(tmp_path):
    """A real `tfxpipe run` process: --no-wait exits 5 naming the scheduled run; without it,
    it says it waits and goes on once the lease is released (then halts on its data, which has
    no column x: it got past the lock)."""
    root = tmp_path / "out"
    (tmp_path / "data.csv").write_text("a,y\n1,0\n2,1\n")
    take_lease(root, "tfxpipe_p/manual__x", "Airflow run tfxpipe_p/manual__x", "R2")
    config = tmp_path / "c.toml"
    config.write_text(f'[pipeline]\nname = "p"\noutput_root = "{root}"\n[data]\nsource = '
                      f'"{tmp_path / "data.csv"}"\n[label]\ncolumn = "y"\nkind = "binary"\n'
                      '[features]\nnumeric = ["x"]\n')
    command = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config)]
    refused = subprocess.run([*command, "--no-wait"], cwd=PROJECT, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 5, refused.stderr
    assert "in use by Airflow run tfxpipe_p/manual__x (run R2" in refused.stderr
    assert "release it with 'tfxpipe doctor --release-lease'" in refused.stderr
    waiting = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    first = waiting.stdout.readline()
    assert first.startswith("waiting: the output root") and "Airflow run" in first, first
    assert first.rstrip().endswith("release it with 'tfxpipe doctor --release-lease')"), first
    time.sleep(1)
    assert waiting.poll() is None
    release_lease(root)
    out, _ = waiting.communicate(timeout=120)
    assert waiting.returncode not in (0, 5) and "'x'" in out, out


# ---------------------------------------------------------------------------------------------
# The DAG


def _spec(tmp_path: Path, **schedule: object) -> Path:
    nodes = {"CsvExampleGen": [], "StatisticsGen": ["CsvExampleGen"],
             "window_resolver": ["CsvExampleGen"], "Trainer": ["StatisticsGen", "window_resolver"],
             "Pusher": ["Trainer"], "previous_span_resolver": []}
    settings = dataclasses.asdict(ScheduleSection(start="2013-01-01", **schedule))
    spec = DagSpec(dag_id="tfxpipe_p", config_path="c.toml", output_root=str(tmp_path),
                   schedule=settings, nodes=nodes, parallel=2)
    return spec.write(tmp_path / "tfxpipe_p.json")


def test_the_dag_has_one_task_per_node_between_prepare_and_finish(tmp_path):
    from pipeline.scheduling.dag import build_dag

    dag = build_dag(str(_spec(tmp_path, wait_minutes=5, poke_seconds=30)))
    tasks = {task.task_id: task for task in dag.tasks}
    assert set(tasks) == {"wait_for_span", "prepare", "finish", "CsvExampleGen",
                          "StatisticsGen", "window_resolver", "Trainer", "Pusher",
                          "previous_span_resolver"}
    assert tasks["prepare"].upstream_task_ids == {"wait_for_span"}
    assert tasks["CsvExampleGen"].upstream_task_ids == {"prepare"}
    assert tasks["previous_span_resolver"].upstream_task_ids == {"prepare"}
    assert tasks["Trainer"].upstream_task_ids == {"StatisticsGen", "window_resolver"}
    assert tasks["finish"].upstream_task_ids == {"Pusher", "previous_span_resolver"}
    assert tasks["finish"].trigger_rule == "all_done"
    sensor = tasks["wait_for_span"]
    assert sensor.mode == "reschedule" and sensor.poke_interval == 30
    assert sensor.timeout == 300
    assert dag.max_active_runs == 1 and dag.catchup and dag.max_active_tasks == 2
    assert dag.start_date == datetime.datetime(2013, 1, 1, tzinfo=UTC)
    # The schedule: one run per month, the interval starting on the 1st.
    info = dag.next_dagrun_info(None)
    assert info.data_interval.start == datetime.datetime(2013, 1, 1, tzinfo=UTC)
    assert info.data_interval.end == datetime.datetime(2013, 2, 1, tzinfo=UTC)


def test_the_dag_file_parses_without_tensorflow(tmp_path):
    """The DAG file as `tfxpipe airflow dag` writes it, imported in a fresh interpreter: no
    TensorFlow, TFX or Beam module is loaded, and it takes well under 2 s."""
    from pipeline.scheduling.home import DAG_FILE

    spec = _spec(tmp_path)
    dag_file = tmp_path / "tfxpipe_p.py"
    dag_file.write_text(DAG_FILE.format(name="p", spec=str(spec)))
    probe = ("import runpy, sys, time, json\nimport airflow\nstarted = time.monotonic()\n"
             f"runpy.run_path({str(dag_file)!r})\n"
             "print(json.dumps({'seconds': time.monotonic() - started, 'heavy': sorted(m for m "
             "in sys.modules if m.split('.')[0] in ('tensorflow', 'tfx', 'apache_beam', "
             "'tensorflow_transform', 'tensorflow_model_analysis'))}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["seconds"] < 2.0, result


def test_a_pid_file_names_a_daemon_only_while_that_airflow_process_runs(tmp_path):
    from pipeline.scheduling import daemons

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "scheduler.pid").write_text(f"{other.pid}\n")
        assert daemons.pid(tmp_path, "scheduler") is None  # a reused number: another program
        assert daemons.stop(tmp_path) == [] and other.poll() is None  # so never signalled
    finally:
        other.kill()
        other.wait()
    assert daemons.pid(tmp_path, "scheduler") is None  # ended


def test_start_fails_in_one_line_naming_the_daemon_that_ended(tmp_path):
    from pipeline.scheduling import daemons

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "webserver.out").write_text("booting\nOSError: [Errno 98] Address "
                                                      "already in use\n")
    with pytest.raises(daemons.DaemonError) as error:
        daemons.wait_healthy(tmp_path, 1, timeout=30)
    assert str(error.value).startswith("the webserver ended while starting: OSError: [Errno 98]")
