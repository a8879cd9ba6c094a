"""The pipeline on Apache Flink (`make test-runners`): a Flink cluster whose JobManager and
TaskManager are Java processes of their own (2 task slots), with Beam's Flink job server, as
`tfxpipe flink start` runs them, built by `make flink-jars`.

Every Beam component of a run on a user's dataset runs as a Flink job at parallelism 2 and gives
what the DirectRunner gives on the same data: the same examples in the same splits, the same
metrics and gate, version 1 pushed. A rerun is served from TFX's cache: no new Flink job.
"""

from __future__ import annotations

import pytest

from pipeline.clusters import flink
from pipeline.config import java_dir
from pipeline.config.paths import FLINK_JOB_SERVER_JAR
from tests.fixtures.cli import run_cli
from tests.fixtures.same_run import assert_same_run, config_for, pipeline_root

pytestmark = [pytest.mark.slow, pytest.mark.runners]

# The Beam components of the run: CsvExampleGen, StatisticsGen, DataDrift, Transform, Evaluator,
# BaselineScores.
BEAM_JOBS = 6


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ports = flink.FlinkPorts(rest=flink.free_port(), rpc=flink.free_port(), job=flink.free_port())
    started = flink.FlinkCluster(tmp_path_factory.mktemp("flink"), java_dir() / "flink-lib",
                                 java_dir() / FLINK_JOB_SERVER_JAR, ports)
    assert flink.start(started) == ["jobmanager", "taskmanager", "jobserver"]
    try:
        state = flink.wait_ready(started, timeout=180)
        assert (state["taskmanagers"], state["slots-total"]) == (1, 2)
        yield started
    finally:
        assert sorted(flink.stop(started)) == ["jobmanager", "jobserver", "taskmanager"]
        assert all(flink.pid(started, name) is None for name in flink.PROCESSES)


def test_the_pipeline_on_flink_gives_what_the_direct_runner_gives(cluster, direct_run,
                                                                    tmp_path):
    config = config_for(tmp_path, f"""
[beam]
runner = "FlinkRunner"
job_endpoint = "{cluster.job_endpoint}"
parallelism = 2
""")
    done = run_cli("run", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Beam FlinkRunner at {cluster.job_endpoint}" in done.stdout
    assert_same_run(pipeline_root(tmp_path), direct_run)
    state = flink.overview(cluster)
    assert state["jobs-failed"] == 0 and state["jobs-finished"] == BEAM_JOBS
    assert not (tmp_path / "out" / ".beam-packages").exists()  # the SDK harness ran in process

    again = run_cli("run", "--config", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(unchanged: served from cache)" in again.stdout
    assert flink.overview(cluster)["jobs-finished"] == BEAM_JOBS  # every component cached


def test_a_cluster_without_its_jars_says_how_to_build_them(tmp_path):
    missing = flink.FlinkCluster(tmp_path / "flink", tmp_path / "java" / "flink-lib",
                                 tmp_path / "java" / FLINK_JOB_SERVER_JAR)
    with pytest.raises(flink.FlinkError, match=r"Flink's jars are not in .*java: build them "
                                               r"with 'make flink-jars'"):
        flink.start(missing)
