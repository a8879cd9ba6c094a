"""A Flink cluster on this machine for the pipeline's Beam jobs: a JobManager and a TaskManager,
each a Java process of its own bound to 127.0.0.1 as on a real cluster, and Beam's Flink job
server, which every Beam component of a run submits its job to (`[beam] job_endpoint`).

The jars come from `make flink-jars` (java/, into `<environment>/java/`). A cluster's folder
(`<output root>/flink`) holds its configuration (`conf/`), its logs (`logs/`), Flink's scratch
files (`tmp/`), the job server's staged artifacts (`artifacts/`) and one pid file per process.
The TaskManager's memory settings are computed the way Flink's own scripts compute them (its
BashJavaUtils).

The job server runs once for all runs, not once per Beam job as Beam's FlinkRunner would start
it from `--flink_job_server_jar`: that registers a SIGINT handler, which fails in the launcher's
threads, and leaves one Java process per Beam job until the launching process ends.

    cluster = local(home, FlinkPorts(rest=8081, rpc=6123, job=8099))
    start(cluster); wait_ready(cluster, 120); overview(cluster); stop(cluster)
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, fields
from pathlib import Path

from components.shared.files import write_atomically
from pipeline.clusters import processes
from pipeline.clusters.processes import JAVA_17_FLAGS, ClusterError, free_port, java_dir

VERSION = "1.16.0"
JOB_SERVER_JAR = "beam-flink-job-server.jar"  # in java_dir(), as make flink-jars names it
# What each process runs: the main class.
PROCESSES = {"jobmanager": "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
             "taskmanager": "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
             "jobserver": "org.apache.beam.runners.flink.FlinkJobServerDriver"}
JAVAS = range(11, 26)  # Java 17 tested with every run; 25 with a job (the flags need 11+)
RESOURCE_QUERIES = {"jobmanager": "GET_JM_RESOURCE_PARAMS", "taskmanager": "GET_TM_RESOURCE_PARAMS"}
_RESULT = "BASH_JAVA_UTILS_EXEC_RESULT:"
LOG4J = """\
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %c{1} - %m%n
"""


@dataclass(frozen=True)
class FlinkPorts:
    rest: int = 8081      # the JobManager's REST API and web UI
    rpc: int = 6123       # the JobManager's RPC
    job: int = 8099       # Beam's job server: `[beam] job_endpoint`


@dataclass(frozen=True)
class FlinkCluster:
    home: Path            # conf/, logs/, tmp/, artifacts/, <process>.pid
    lib: Path             # the cluster's jars (make flink-jars)
    job_server_jar: Path  # Beam's Flink job server (make flink-jars)
    ports: FlinkPorts = FlinkPorts()
    slots: int = 2        # the TaskManager's task slots: the most parallel a job can run
    memory_mb: int = 4096  # the TaskManager's process, Flink's managed memory included

    @property
    def job_endpoint(self) -> str:
        return f"localhost:{self.ports.job}"


def local(home: Path, ports: FlinkPorts | None = None, slots: int = 2) -> FlinkCluster:
    """A cluster in `home` from the jars `make flink-jars` built, on free ports when `ports`
    is None."""
    ports = ports or FlinkPorts(*(free_port() for _ in fields(FlinkPorts)))
    return FlinkCluster(home.resolve(), java_dir() / "flink-lib", java_dir() / JOB_SERVER_JAR,
                        ports, slots=slots)


def write_conf(cluster: FlinkCluster) -> Path:
    """Flink's configuration folder for `cluster`, everything bound to 127.0.0.1."""
    settings = {
        "jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": cluster.ports.rpc,
        "jobmanager.bind-host": "127.0.0.1", "jobmanager.memory.process.size": "1024m",
        "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1",
        "rest.port": cluster.ports.rest, "blob.server.port": 0,
        "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": cluster.slots,
        "taskmanager.memory.process.size": f"{cluster.memory_mb}m",
        # Beam's batch jobs run many stages at once, each exchange holding network buffers:
        # TFDV's, tf.Transform's and TFMA's need more than Flink's default tenth of the
        # memory, and fewer than its 512 buffers (16 MB) for each blocking result.
        "taskmanager.memory.network.fraction": 0.3,
        "taskmanager.memory.network.max": "2g",
        "taskmanager.network.sort-shuffle.min-buffers": 64,
        # Beam's data plane to the SDK harness (gRPC) allocates direct memory in the tasks:
        # with the default none, Transform's job at 150k rows failed with "OutOfMemoryError:
        # Direct buffer memory". Flink's sorting (managed memory) gets less than its default.
        "taskmanager.memory.task.off-heap.size": "512m",
        "taskmanager.memory.framework.off-heap.size": "256m",
        "taskmanager.memory.managed.fraction": 0.2,
        "parallelism.default": cluster.slots, "io.tmp.dirs": str(cluster.home / "tmp"),
        "web.tmpdir": str(cluster.home / "tmp" / "web"),
    }
    conf = cluster.home / "conf"
    for folder in (conf, cluster.home / "logs", cluster.home / "tmp"):
        folder.mkdir(parents=True, exist_ok=True)
    write_atomically(conf / "flink-conf.yaml",
                     "".join(f"{key}: {value}\n" for key, value in settings.items()))
    write_atomically(conf / "log4j.properties", LOG4J)
    return conf


def start(cluster: FlinkCluster, java: str = "java") -> list[str]:
    """The JobManager, the TaskManager and the job server, each in a session of its own; those
    running stay. The names of those started."""
    for needed, what in ((next(cluster.lib.glob("flink-runtime-*.jar"), None), "Flink's jars"),
                         (cluster.job_server_jar.is_file() or None, "Beam's Flink job server")):
        if needed is None:
            raise ClusterError(f"{what} are not in {cluster.lib.parent}: build them with "
                               "'make flink-jars' (Maven and Java 17)")
    processes.check_java(java, f"Flink {VERSION}", JAVAS)
    conf = write_conf(cluster)
    return processes.start_missing(cluster.home, PROCESSES,
                                   lambda name: _command(cluster, conf, name, java))


def _command(cluster: FlinkCluster, conf: Path, name: str, java: str) -> list[str]:
    if name == "jobserver":
        return [java, *JAVA_17_FLAGS, "-cp", str(cluster.job_server_jar), PROCESSES[name],
                "--flink-master", f"localhost:{cluster.ports.rest}",
                "--job-port", str(cluster.ports.job), "--artifact-port", "0",
                "--expansion-port", "0", "--artifacts-dir", str(cluster.home / "artifacts")]
    classpath = f"{cluster.lib}/*"
    jvm, dynamic = _resources(java, classpath, conf, name)
    return [java, *JAVA_17_FLAGS, *jvm, f"-Dlog.file={cluster.home / 'logs' / name}.log",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            "-cp", classpath, PROCESSES[name], "--configDir", str(conf), *dynamic]


def _resources(java: str, classpath: str, conf: Path, name: str) -> tuple[list[str], list[str]]:
    """The JVM's memory flags and Flink's dynamic properties for `name`, as Flink's scripts
    compute them from the configuration (a TaskManager refuses to start without them)."""
    done = subprocess.run([java, "-cp", classpath, "org.apache.flink.runtime.util.bash."
                           "BashJavaUtils", RESOURCE_QUERIES[name], "--configDir", str(conf)],
                          capture_output=True, text=True)
    results = [line[len(_RESULT):].split() for line in done.stdout.splitlines()
               if line.startswith(_RESULT)]
    if done.returncode != 0 or len(results) < 2:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines()
                or ["no output"])[-1]
        raise ClusterError(f"Flink could not size the {name}'s memory from {conf}: {last}")
    return results[-2], results[-1]


def pid(cluster: FlinkCluster, name: str) -> int | None:
    return processes.pid(cluster.home, name, PROCESSES[name])


def overview(cluster: FlinkCluster) -> dict:
    """The JobManager's answer on its REST port ({} when none)."""
    return processes.get_json(f"http://127.0.0.1:{cluster.ports.rest}/overview")


def wait_ready(cluster: FlinkCluster, timeout: float) -> dict:
    """The overview once the TaskManager's slots are registered with the JobManager and the job
    server listens; raises ClusterError when a process ended or `timeout` seconds passed."""
    ready = processes.capacity_and_job_server(lambda: overview(cluster), "slots-total",
                                              cluster.slots, cluster.ports.job)
    return processes.wait_ready(cluster.home, PROCESSES, ready, timeout,
                                "Flink's TaskManager or Beam's job server was")


def describe(cluster: FlinkCluster, state: dict) -> str:
    """What runs, for a person: where the web UI is, the slots, the jobs."""
    return (f"Flink {state.get('flink-version', VERSION)}: web UI http://127.0.0.1:"
            f"{cluster.ports.rest}, {state.get('taskmanagers', 0)} TaskManager, "
            f"{state.get('slots-total', 0)} slots, jobs: {state.get('jobs-running', 0)} "
            f"running, {state.get('jobs-finished', 0)} finished, {state.get('jobs-failed', 0)} "
            "failed")


def stop(cluster: FlinkCluster, timeout: float = 30.0) -> list[str]:
    """Ends the job server, the TaskManager, then the JobManager; the names of those that ran."""
    return processes.stop(cluster.home, PROCESSES, timeout)
