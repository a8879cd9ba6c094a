"""`tfxpipe flink|spark` without a cluster, and the clusters' configuration (the clusters
themselves run in tests/e2e/test_clusters.py)."""

from __future__ import annotations

from pipeline.cli import main
from pipeline.clusters import flink, spark
from pipeline.clusters.processes import free_port


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
