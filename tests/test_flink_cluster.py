"""`tfxpipe flink` without a cluster, and the cluster's configuration (the cluster itself runs in
tests/e2e/test_flink.py)."""

from __future__ import annotations

from pipeline.cli import main
from pipeline.clusters import flink


def test_status_and_stop_of_a_cluster_that_never_started_say_so(toy, capsys):
    config = str(toy())
    assert main(["flink", "status", "--config", config, "--port", "1"]) == 0
    out = capsys.readouterr().out
    assert "jobmanager: not running" in out and "jobserver: not running" in out
    assert main(["flink", "stop", "--config", config]) == 0
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
