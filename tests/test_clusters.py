"""`tfxpipe flink|spark` without a cluster, and the clusters' configuration (the clusters
themselves run in tests/e2e/test_clusters.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.clusters import flink, processes, spark
from pipeline.clusters.processes import ClusterError, free_port
from tests.fixtures import PROJECT


def test_status_and_stop_of_a_cluster_that_never_started_say_so(toy, capsys):
    config = str(toy())
    for engine, first in (("flink", "jobmanager"), ("spark", "master")):
        assert main([engine, "status", "--config", config, "--port", "1"]) == 0
        out = capsys.readouterr().out
        assert f"{first}: not running" in out and "jobserver: not running" in out
        assert main([engine, "stop", "--config", config]) == 0
        assert capsys.readouterr().out.strip() == "stopped: nothing was running"


def test_a_stale_pid_file_is_not_taken_for_a_running_process(tmp_path):
    cluster = flink.FlinkCluster(tmp_path, tmp_path / "lib", tmp_path / "job-server.jar")
    (tmp_path / "jobmanager.pid").write_text("1\n")  # init: alive, but not a JobManager
    (tmp_path / "taskmanager.pid").write_text("not a pid\n")
    assert flink.pid(cluster, "jobmanager") is None and flink.pid(cluster, "taskmanager") is None
    assert flink.stop(cluster) == []
    assert not any(tmp_path.glob("*.pid"))


def test_the_cluster_listens_on_127_0_0_1_only_and_keeps_its_files_in_its_folder(tmp_path):
    cluster = flink.FlinkCluster(tmp_path / "flink", tmp_path / "lib", tmp_path / "j.jar",
                                 flink.FlinkPorts(rest=18081, rpc=16123, job=18099), slots=3)
    conf = flink.write_conf(cluster)
    settings = dict(line.split(": ", 1) for line in
                    (conf / "flink-conf.yaml").read_text().splitlines())
    assert {settings[k] for k in ("jobmanager.bind-host", "rest.bind-address",
                                  "taskmanager.bind-host", "jobmanager.rpc.address")} == \
        {"127.0.0.1"}
    assert (settings["rest.port"], settings["jobmanager.rpc.port"]) == ("18081", "16123")
    assert settings["taskmanager.numberOfTaskSlots"] == settings["parallelism.default"] == "3"
    assert settings["io.tmp.dirs"] == str(tmp_path / "flink" / "tmp")
    assert cluster.job_endpoint == "localhost:18099"


def test_spark_binds_to_127_0_0_1_and_gives_executors_the_java_17_flags(tmp_path):
    cluster = spark.SparkCluster(tmp_path / "spark", tmp_path / "home",
                                 spark.SparkPorts(master=17077, web=18082, job=18097))
    conf = spark.write_conf(cluster)
    settings = dict(line.split(" ", 1) for line in
                    (conf / "spark-defaults.conf").read_text().splitlines())
    assert settings["spark.driver.host"] == settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in settings[
        "spark.executor.extraJavaOptions"]
    assert settings["spark.local.dir"] == str(tmp_path / "spark" / "tmp")
    assert cluster.master_url == "spark://127.0.0.1:17077"
    assert cluster.job_endpoint == "localhost:18097"


def test_a_run_whose_job_server_does_not_answer_stops_before_it_starts(toy, capsys):
    port = free_port()
    config = toy(extra=f'[beam]\nrunner = "SparkRunner"\njob_endpoint = "localhost:{port}"\n')
    assert main(["run", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: no Beam job server answers at 'localhost:{port}' ([beam] "
                            "job_endpoint, runner = 'SparkRunner'): ")
    assert error.endswith("start one with 'make spark' (tfxpipe spark start), or point "
                          "job_endpoint at yours")
    assert not (config.parent / "outputs").exists()  # no run, no lock, no store


def _fake_java(folder: Path, says: str) -> str:
    """A `java` that answers `-version` as a JDK does (on standard error)."""
    java = folder / "java"
    java.write_text(f"#!/bin/sh\necho '{says}' >&2\n")
    java.chmod(0o755)
    return str(java)


@pytest.mark.parametrize("says, version", [('openjdk version "17.0.15" 2025-04-15', 17),
                                           ('openjdk version "25.0.1" 2025-10-21', 25),
                                           ('java version "1.8.0_372"', 8),
                                           ('openjdk version "11" 2018-09-25', 11)])
def test_the_java_version_is_read_as_a_jdk_prints_it(tmp_path, says, version):
    assert processes.java_version(_fake_java(tmp_path, says)) == version


def test_a_java_a_cluster_cannot_run_on_is_refused_with_the_java_to_use(tmp_path):
    java = _fake_java(tmp_path, 'openjdk version "25.0.1" 2025-10-21')
    cluster = spark.SparkCluster(tmp_path / "spark", tmp_path / "home")
    (cluster.spark_home / "jars").mkdir(parents=True)
    for jar in ("spark-core_2.12-3.2.2.jar", "beam-runners-spark-3-2.56.0.jar"):
        (cluster.spark_home / "jars" / jar).touch()
    with pytest.raises(ClusterError, match=r"^Spark 3.2.2 runs on Java 11 to 17 and '.*java' is "
                                           r"Java 25: install OpenJDK 17 .* pass its java with "
                                           r"--java /usr/lib/jvm/"):
        spark.start(cluster, java)
    with pytest.raises(ClusterError, match=r"'/no/such/java' does not run"):
        processes.check_java("/no/such/java", "Flink", flink.JAVAS)
    assert not list(cluster.home.glob("*.pid")) and not (cluster.home / "logs").exists()
    processes.check_java(_fake_java(tmp_path, 'openjdk version "25.0.1"'), "Flink", flink.JAVAS)


def _sleeper(*words: str) -> subprocess.Popen:
    """A process whose command line holds `words`, as a cluster's Java process holds its main
    class and its files."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *words],
                            start_new_session=True)


def test_a_process_whose_pid_file_was_never_written_is_found_adopted_and_stopped(tmp_path):
    home, other = tmp_path / "flink", tmp_path / "flink2"
    mains = {"jobmanager": "org.example.JobManager", "taskmanager": "org.example.TaskManager"}
    orphan = _sleeper("org.example.JobManager", f"--configDir={home}/conf")
    neighbour = _sleeper("org.example.TaskManager", f"--configDir={other}/conf")
    twin = _sleeper("org.example.JobManager", f"-Dlog.file={home}/logs/jm.log")  # two starts
    try:
        found = processes.pid(home, "jobmanager", mains["jobmanager"])
        assert found in (orphan.pid, twin.pid)
        assert processes.pid(home, "taskmanager", mains["taskmanager"]) is None  # not its folder
        launched = []
        started = processes.start_missing(
            home, mains, lambda name: launched.append(name) or
            [sys.executable, "-c", "import time; time.sleep(120)", mains[name], f"{home}/x"])
        assert started == launched == ["taskmanager"]
        assert (home / "jobmanager.pid").read_text() == f"{found}\n"  # adopted
        assert processes.stop(home, mains, timeout=10) == ["taskmanager", "jobmanager"]
        assert orphan.wait(10) == twin.wait(10) == -signal.SIGTERM and neighbour.poll() is None
        assert all(processes.pid(home, name, main) is None for name, main in mains.items())
    finally:
        for process in (orphan, neighbour, twin):
            process.kill()
            process.wait()


def test_one_start_or_stop_at_a_time_holds_the_cluster_in_any_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from pipeline.clusters.processes import locked\n"
         "with locked(Path(sys.argv[1]), 5): print('held', flush=True); time.sleep(120)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ClusterError, match=rf"^pid {holder.pid} is still starting or "
                                               rf"stopping the cluster in {tmp_path} after 1 s"):
            with processes.locked(tmp_path, 1):
                pass
    finally:
        holder.kill()
        holder.wait()
    with processes.locked(tmp_path, 1):  # the lock ended with its process
        assert (tmp_path / "cluster.lock").read_text() == f"pid {os.getpid()}\n"
