"""A Spark standalone cluster on this machine for the pipeline's Beam jobs: a master and a worker
(which starts the executor process), each a Java process of its own bound to 127.0.0.1, and
Beam's Spark job server, in which the jobs' Spark driver runs (one Spark application for all
the jobs, as a JVM holds one SparkContext and a run submits jobs side by side).

The jars come from `make spark-jars` (java/spark/pom.xml: Beam 2.56.0's Spark runner and
job service with Spark 3.2.2, into `<environment>/java/spark/jars`, which is the cluster's
SPARK_HOME for the worker's executors). A cluster's folder (`<output root>/spark`) holds its
configuration (`conf/`), its logs (`logs/`), the worker's and the executors' scratch (`work/`,
`tmp/`), the job server's staged artifacts (`artifacts/`) and one pid file per process.

    cluster = local(home, SparkPorts(master=7077, web=8082, job=8097))
    start(cluster); wait_ready(cluster, 120); stop(cluster)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from components.shared.files import write_atomically
from pipeline.clusters import processes
from pipeline.clusters.processes import JAVA_17_FLAGS, ClusterError, free_port, java_dir

VERSION = "3.2.2"
PROCESSES = {"master": "org.apache.spark.deploy.master.Master",
             "worker": "org.apache.spark.deploy.worker.Worker",
             "jobserver": "org.apache.beam.runners.spark.SparkJobServerDriver"}

# Spark 3.2 runs on Java 8 to 17 (the flags need 11+); on Java 25 its worker fails at start
# ("NoSuchMethodException: java.nio.DirectByteBuffer.<init>(long,int)").
JAVAS = range(11, 18)


@dataclass(frozen=True)
class SparkPorts:
    master: int = 7077    # spark://127.0.0.1:<master>
    web: int = 8082       # the master's web UI and its JSON state
    worker_web: int = 8083
    job: int = 8097       # Beam's job server: `[beam] job_endpoint`


@dataclass(frozen=True)
class SparkCluster:
    home: Path            # conf/, logs/, work/, tmp/, artifacts/, <process>.pid
    spark_home: Path      # <spark_home>/jars: Spark's and Beam's runner jars (make spark-jars)
    ports: SparkPorts = SparkPorts()
    cores: int = 2        # the worker's cores: the most tasks a job runs at once
    memory_mb: int = 4096  # the worker's memory for executors

    @property
    def job_endpoint(self) -> str:
        return f"localhost:{self.ports.job}"

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.ports.master}"


def local(home: Path, ports: SparkPorts | None = None, cores: int = 2) -> SparkCluster:
    """A cluster in `home` from the jars `make spark-jars` built, on free ports when `ports`
    is None."""
    ports = ports or SparkPorts(*(free_port() for _ in fields(SparkPorts)))
    return SparkCluster(home.resolve(), java_dir() / "spark", ports, cores=cores)


def _settings(cluster: SparkCluster) -> dict[str, str]:
    """Spark's settings for the cluster's processes and the jobs' driver and executors."""
    return {
        "spark.local.dir": str(cluster.home / "tmp"),
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        "spark.executor.memory": f"{max(cluster.memory_mb - 512, 512)}m",
        "spark.executor.extraJavaOptions": " ".join(JAVA_17_FLAGS),
        "spark.ui.enabled": "false",  # a driver's UI per Beam job: ports and threads
    }


def write_conf(cluster: SparkCluster) -> Path:
    """spark-defaults.conf (`_settings`) in the cluster's configuration folder."""
    settings = _settings(cluster)
    conf = cluster.home / "conf"
    for folder in (conf, cluster.home / "logs", cluster.home / "tmp", cluster.home / "work"):
        folder.mkdir(parents=True, exist_ok=True)
    write_atomically(conf / "spark-defaults.conf",
                     "".join(f"{key} {value}\n" for key, value in settings.items()))
    return conf


def start(cluster: SparkCluster, java: str = "java") -> list[str]:
    """The master, the worker and the job server, each in a session of its own; those running
    stay. The names of those started."""
    jars = cluster.spark_home / "jars"
    if next(jars.glob("spark-core_*.jar"), None) is None or \
            next(jars.glob("beam-runners-spark-3-*.jar"), None) is None:
        raise ClusterError(f"Spark's and Beam's jars are not in {jars}: build them with "
                           "'make spark-jars' (Maven and Java 17)")
    processes.check_java(java, f"Spark {VERSION}", JAVAS)
    conf = write_conf(cluster)
    env = {**os.environ, "SPARK_HOME": str(cluster.spark_home), "SPARK_SCALA_VERSION": "2.12",
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_CONF_DIR": str(conf)}
    return processes.start_missing(cluster.home, PROCESSES,
                                   lambda name: _command(cluster, conf, name, java), env)


def _command(cluster: SparkCluster, conf: Path, name: str, java: str) -> list[str]:
    ports, properties = cluster.ports, conf / "spark-defaults.conf"
    arguments = {
        "master": ["--host", "127.0.0.1", "--port", str(ports.master), "--webui-port",
                   str(ports.web), "--properties-file", str(properties)],
        "worker": ["--host", "127.0.0.1", "--cores", str(cluster.cores), "--memory",
                   f"{cluster.memory_mb}m", "--webui-port", str(ports.worker_web),
                   "--work-dir", str(cluster.home / "work"), "--properties-file",
                   str(properties), cluster.master_url],
        "jobserver": ["--spark-master-url", cluster.master_url, "--job-port", str(ports.job),
                      "--artifact-port", "0", "--expansion-port", "0",
                      "--artifacts-dir", str(cluster.home / "artifacts")],
    }[name]
    # The job server's JVM is the jobs' Spark driver: it reads spark.* system properties. One
    # SparkContext serves every job (Beam's switch for reusing it): a JVM holds one at a time,
    # and a run's independent Beam components submit their jobs at the same time.
    driver = [*(f"-D{key}={value}" for key, value in _settings(cluster).items()),
              "-Dbeam.spark.test.reuseSparkContext=true"] if name == "jobserver" else []
    return [java, *JAVA_17_FLAGS, "-Xmx1g", *driver, "-cp",
            f"{cluster.spark_home / 'jars'}/*", PROCESSES[name], *arguments]


def pid(cluster: SparkCluster, name: str) -> int | None:
    return processes.pid(cluster.home, name, PROCESSES[name])


def overview(cluster: SparkCluster) -> dict:
    """The master's state (its web UI's JSON; {} when none)."""
    return processes.get_json(f"http://127.0.0.1:{cluster.ports.web}/json/")


def wait_ready(cluster: SparkCluster, timeout: float) -> dict:
    """The master's state once the worker's cores are registered and the job server listens;
    raises ClusterError when a process ended or `timeout` seconds passed."""
    ready = processes.capacity_and_job_server(lambda: overview(cluster), "cores",
                                              cluster.cores, cluster.ports.job)
    return processes.wait_ready(cluster.home, PROCESSES, ready, timeout,
                                "Spark's worker or Beam's job server was")


def describe(cluster: SparkCluster, state: dict) -> str:
    """What runs, for a person: where the web UI is, the worker's cores, the cores in use."""
    return (f"Spark {VERSION}: web UI http://127.0.0.1:{cluster.ports.web}, "
            f"{state.get('aliveworkers', 0)} worker, {state.get('cores', 0)} cores "
            f"({state.get('coresused', 0)} in use)")


def stop(cluster: SparkCluster, timeout: float = 30.0) -> list[str]:
    """Ends the job server, the worker (its executors with it), then the master."""
    return processes.stop(cluster.home, PROCESSES, timeout)
