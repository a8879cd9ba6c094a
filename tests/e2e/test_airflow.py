"""Scheduled runs on a real Airflow (`make test-airflow`), on a user's dataset (iris, daily spans).

1. `airflow dags test` of the DAG `tfxpipe airflow dag` wrote, for the first interval: every task
   succeeds, version 1 is pushed, ML Metadata holds the run's executions COMPLETE, the lease is
   released; the DAG file parses in well under 2 s.
2. A catch-up of three intervals with `airflow dags backfill`: span 3 is pushed as version 2
   (judged against version 1), span 4 (one class only) ends skipped with the data gate's reason,
   span 5 has not arrived: its sensor fails in one line after its timeout and nothing is trained.
3. `tfxpipe airflow start`: PostgreSQL, the scheduler and the web server on 127.0.0.1 with the
   DAG loaded; `tfxpipe airflow stop` ends them.

Airflow's own database is SQLite in a temporary AIRFLOW_HOME for 1 and 2 (a DAG test and a backfill
run their tasks in one process), PostgreSQL for 3, as `make airflow` sets it up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from pipeline.records.mlmd import STATE_NAMES, open_store, run_nodes
from tests.fixtures import PROJECT
from tests.fixtures.cli import read_summary, run_cli
from tests.fixtures.datasets import deliver, load, write

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

SCHEDULE = """
[spans]
window = 2

[schedule]
interval = "@daily"
start = "2024-01-01"
first_span = 1
wait_minutes = 0.1
poke_seconds = 2
"""


def _airflow(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env,
                          cwd=PROJECT, capture_output=True, text=True, timeout=timeout)


def _states(env: dict[str, str], run_id: str) -> dict[str, str]:
    done = _airflow(env, "tasks", "states-for-dag-run", "tfxpipe_iris", run_id, "-o", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    return {row["task_id"]: row["state"] for row in rows}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    """iris as spans 1-3 (span 4 with one class only, span 5 missing), its DAG, an Airflow
    home with SQLite."""
    folder = tmp_path_factory.mktemp("airflow")
    dataset = load("iris")
    config = write(dataset, folder, dirty=False, optimization="")
    with config.open("a") as handle:
        handle.write(SCHEDULE)
    rows = [list(r) for r in dataset.rows]
    for span, part in ((2, rows[0::2]), (3, rows[1::2]),
                       (4, [r for r in rows if r[-1] == rows[0][-1]])):
        deliver(config, span, dataset.header, part)
    made = run_cli("airflow", "dag", "--config", str(config), timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    dags = folder / "out" / "airflow" / "dags"
    assert "16 component tasks" in made.stdout and (dags / "tfxpipe_iris.py").is_file()
    home = folder / "airflow_home"
    env = dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__EXECUTOR="DebugExecutor",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
               HOME=str(folder / "home"))
    migrated = _airflow(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    return {"config": config, "env": env, "pipeline": folder / "out" / "iris", "folder": folder}


def _served(pipeline: Path) -> list[int]:
    return sorted(int(p.name) for p in (pipeline / "serving" / "iris").iterdir()
                  if p.name.isdigit())


def test_the_dag_parses_fast_and_a_dag_test_pushes_version_1(scheduled):
    env, pipeline = scheduled["env"], scheduled["pipeline"]
    report = _airflow(env, "dags", "report", "-o", "json")
    assert report.returncode == 0, report.stderr[-2000:]
    [row] = json.loads(report.stdout.strip().splitlines()[-1])
    hours, minutes, seconds = row["duration"].split(":")
    assert row["dags"] == ["tfxpipe_iris"] and int(row["task_num"]) == 19
    assert int(hours) == int(minutes) == 0 and float(seconds) < 2.0, row

    # A manual run for 2024-01-02 processes the interval ending then: 2024-01-01, span 1.
    tested = _airflow(env, "dags", "test", "tfxpipe_iris", "2024-01-02")
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    states = _states(env, "manual__2024-01-02T00:00:00+00:00")
    assert len(states) == 19 and set(states.values()) == {"success"}, states
    assert _served(pipeline) == [1]
    [run_id] = [p.name for p in (pipeline / "runs").iterdir() if p.is_dir()]
    summary = read_summary(pipeline / "runs", run_id)
    assert summary["outcome"] == "pushed" and int(summary["pushed_version"]) == 1
    assert [s["span"] for s in summary["spans"]] == [1]
    nodes = run_nodes(open_store(pipeline / "metadata.sqlite"), "iris", run_id)
    assert len(nodes) == 16 and {n.state for n in nodes.values()} <= {"COMPLETE", "CACHED"}
    assert not (scheduled["folder"] / "out" / ".tfxpipe.lease.json").exists()
    assert not (scheduled["folder"] / "home").exists()  # nothing in the home directory
    listing = run_cli("runs", "--config", str(scheduled["config"]), timeout=120)
    assert f"{run_id}" in listing.stdout and "version 1" in listing.stdout


def test_a_backfill_pushes_skips_and_waits_per_interval(scheduled):
    env, pipeline = scheduled["env"], scheduled["pipeline"]
    backfill = _airflow(env, "dags", "backfill", "-s", "2024-01-03", "-e", "2024-01-05",
                        "tfxpipe_iris")
    out = backfill.stdout + backfill.stderr
    assert backfill.returncode != 0  # the last interval's span has not arrived

    pushed = _states(env, "backfill__2024-01-03T00:00:00+00:00")
    assert set(pushed.values()) == {"success"}, pushed
    assert _served(pipeline) == [1, 2]
    manifest = json.loads((pipeline / "serving" / "iris" / "2" / "manifest.json").read_text())
    assert manifest["baseline_version"] == 1
    assert [s["span"] for s in manifest["spans"]] == [2, 3], manifest["spans"]

    halted = _states(env, "backfill__2024-01-04T00:00:00+00:00")
    assert halted["DataGate"] == "skipped" and halted["Transform"] == "skipped", halted
    assert halted["finish"] == "skipped" and halted["prepare"] == "success", halted
    summaries = [read_summary(pipeline / "runs", p.name) for p in (pipeline / "runs").iterdir()
                 if (p / "summary.json").exists()]
    [span_4] = [s for s in summaries if [x["span"] for x in s.get("spans", [])][-1:] == [4]]
    assert span_4["outcome"] == "halted by data validation", span_4["outcome"]
    assert [(a["feature"], a["kind"]) for a in span_4["anomalies"]] == [
        ("label", "COMPARATOR_L_INFTY_HIGH")], span_4["anomalies"]

    missing = _states(env, "backfill__2024-01-05T00:00:00+00:00")
    assert missing["wait_for_span"] == "failed" and missing["prepare"] == "upstream_failed"
    assert missing["Trainer"] == "upstream_failed" and missing["finish"] == "failed", missing
    assert ("span 5 (the interval starting 2024-01-05T00:00:00+00:00) has not arrived after "
            "6 s: no files match") in out
    assert "the run did not start: wait_for_span ended failed" in out
    assert _served(pipeline) == [1, 2] and len(summaries) == 3  # nothing ran for span 5
    assert not (scheduled["folder"] / "out" / ".tfxpipe.lease.json").exists()
    store = open_store(pipeline / "metadata.sqlite")
    assert all(STATE_NAMES(e.last_known_state) != "RUNNING" for e in store.get_executions())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_airflow_start_serves_the_dag_on_postgresql_and_stop_ends_it(scheduled):
    # An output root the `postgres` system user may enter (pytest's folders are private to root).
    out = Path(tempfile.mkdtemp(prefix="tfxpipe-airflow-", dir="/tmp"))
    out.chmod(0o755)
    config, root = scheduled["config"], ("--output-root", str(out))
    web, database = _free_port(), _free_port()
    started = run_cli("airflow", "start", "--config", str(config), *root, "--port", str(web),
                      "--db-port", str(database), timeout=600)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{web}" in started.stdout
        cfg = (out / "airflow" / "airflow.cfg").read_text()
        assert "executor = LocalExecutor" in cfg and f"127.0.0.1:{database}/airflow" in cfg
        assert "scheduler healthy" in started.stdout  # start waited for its first heartbeat
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/health", timeout=30) as answer:
            health = json.load(answer)
        assert health["metadatabase"]["status"] == "healthy", health
        assert health["scheduler"]["status"] == "healthy", health
        env = dict(os.environ, AIRFLOW_HOME=str(out / "airflow"))
        listed = _airflow(env, "dags", "list", "-o", "json")
        assert "tfxpipe_iris" in listed.stdout, listed.stderr[-2000:]
        status = run_cli("airflow", "status", "--config", str(config), *root, timeout=120)
        assert "scheduler: running" in status.stdout and "PostgreSQL: running" in status.stdout
    finally:
        stopped = run_cli("airflow", "stop", "--config", str(config), *root, timeout=300)
    assert stopped.returncode == 0 and "PostgreSQL" in stopped.stdout, stopped.stdout
    status = run_cli("airflow", "status", "--config", str(config), *root, timeout=120)
    assert "running (" not in status.stdout and "PostgreSQL: not running" in status.stdout
    shutil.rmtree(out, ignore_errors=True)
