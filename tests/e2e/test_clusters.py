"""The pipeline on Apache Flink and on Apache Spark (`make test-runners`), each a cluster whose
processes are Java processes of their own as `tfxpipe flink|spark start` runs them (Flink: a
JobManager and a TaskManager with 2 slots; Spark: a master and a worker with 2 cores, which
starts an executor per job), with Beam's job server for it, from the jars `make flink-jars` and
`make spark-jars` build.

Every Beam component of a run on a user's dataset (iris, multiclass, clean; diabetes,
regression, as users write CSVs: tests/fixtures/same_run.py) runs as a job on the cluster and
gives what the DirectRunner gives on the same data: the same examples in the same splits, the
same metrics and gate, version 1 pushed. A rerun is served from TFX's cache: no new job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.clusters import flink, spark
from pipeline.clusters.command import ENGINES
from pipeline.clusters.processes import ClusterError, free_port
from pipeline.config import load_config
from tests.fixtures import PROJECT
from tests.fixtures.cli import run_cli
from tests.fixtures.same_run import DIRTY, assert_same_run, config_for, pipeline_root

pytestmark = [pytest.mark.slow, pytest.mark.runners]

# The Beam components of the run: CsvExampleGen, StatisticsGen, DataDrift, Transform, Evaluator,
# BaselineScores.
BEAM_JOBS = 6


def _job_states(endpoint: str) -> dict[str, str]:
    """{job id: state} of the jobs Beam's job server at `endpoint` still lists (it keeps the
    last 10)."""
    import grpc
    from apache_beam.portability.api import beam_job_api_pb2, beam_job_api_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        answer = beam_job_api_pb2_grpc.JobServiceStub(channel).GetJobs(
            beam_job_api_pb2.GetJobsRequest(), timeout=30)
    return {job.job_id: beam_job_api_pb2.JobState.Enum.Name(job.state)
            for job in answer.job_info}


def _new_jobs(endpoint: str, before: dict[str, str]) -> list[str]:
    """The states of the jobs submitted since `before` was listed."""
    return [state for job, state in _job_states(endpoint).items() if job not in before]


@pytest.fixture(scope="module", params=[(flink, "FlinkRunner"), (spark, "SparkRunner")],
                ids=["flink", "spark"])
def cluster(request, tmp_path_factory):
    engine, runner = request.param
    started = engine.local(tmp_path_factory.mktemp(runner))  # on free ports
    assert engine.start(started) == list(engine.PROCESSES)
    try:
        engine.wait_ready(started, timeout=180)
        yield engine, started, runner
    finally:
        assert sorted(engine.stop(started)) == sorted(engine.PROCESSES)
        assert all(engine.pid(started, name) is None for name in engine.PROCESSES)


@pytest.mark.parametrize("dataset", list(DIRTY))
def test_the_pipeline_on_a_cluster_gives_what_the_direct_runner_gives(cluster, direct_runs,
                                                                       dataset, tmp_path):
    engine, started, runner = cluster
    config = config_for(tmp_path, f"""
[beam]
runner = "{runner}"
job_endpoint = "{started.job_endpoint}"
parallelism = 2
""", dataset)
    before = _job_states(started.job_endpoint)
    done = run_cli("run", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Beam {runner} at {started.job_endpoint}" in done.stdout
    assert_same_run(pipeline_root(tmp_path, dataset), direct_runs(dataset))
    assert _new_jobs(started.job_endpoint, before) == ["DONE"] * BEAM_JOBS
    assert not (tmp_path / "out" / ".beam-packages").exists()  # the SDK harness ran in process

    before = _job_states(started.job_endpoint)
    again = run_cli("run", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(unchanged: served from cache)" in again.stdout
    assert _new_jobs(started.job_endpoint, before) == []  # every component cached


def test_a_cluster_without_its_jars_says_how_to_build_them(tmp_path):
    missing = [flink.FlinkCluster(tmp_path / "flink", tmp_path / "java" / "flink-lib",
                                  tmp_path / "java" / flink.JOB_SERVER_JAR),
               spark.SparkCluster(tmp_path / "spark", tmp_path / "java" / "spark")]
    for engine, cluster, target in zip((flink, spark), missing, ("flink-jars", "spark-jars"),
                                       strict=True):
        with pytest.raises(ClusterError, match=rf" are not in .*java.*: build them with "
                                               rf"'make {target}'"):
            engine.start(cluster)


def _running(home: Path, main: str) -> int:
    """How many live processes run `main` with files in `home`."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        count += main.encode() in words and any(f"{home}/".encode() in w for w in words)
    return count


@pytest.mark.parametrize("name", ["flink", "spark"])
def test_two_starts_at_once_make_one_cluster_and_lost_pid_files_orphan_nothing(name, tmp_path):
    engine = ENGINES[name]
    config = config_for(tmp_path, "")
    home = load_config(config).output_root / name
    ports = [word for option in engine.ports for word in (f"--{option}", str(free_port()))]
    start = [sys.executable, "-m", "pipeline.cli", name, "start", "--config", str(config), *ports]
    both = [subprocess.Popen(start, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for _ in range(2)]
    try:
        outputs = [process.communicate(timeout=400)[0] for process in both]
        assert [process.returncode for process in both] == [0, 0], outputs
        assert {main: _running(home, main) for main in engine.module.PROCESSES.values()} == \
            dict.fromkeys(engine.module.PROCESSES.values(), 1)
        for pid_file in home.glob("*.pid"):  # as if a start had been killed before writing them
            pid_file.unlink()
        status = run_cli(name, "status", "--config", str(config), *ports)
        assert status.stdout.count("running (pid ") == len(engine.module.PROCESSES), status.stdout
        again = run_cli(name, "start", "--config", str(config), *ports)
        assert again.returncode == 0, again.stdout + again.stderr
        assert sorted(p.stem for p in home.glob("*.pid")) == sorted(engine.module.PROCESSES)
    finally:
        stopped = run_cli(name, "stop", "--config", str(config), *ports)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "stopped: " + ", ".join(reversed(engine.module.PROCESSES))
    assert all(_running(home, main) == 0 for main in engine.module.PROCESSES.values())
