"""The pipeline on Beam's PortableRunner (`make test-runners`): a job service and an SDK worker
pool, each a process of its own as on a cluster, run every Beam component of a run on a user's
dataset (iris).

The run gives what the DirectRunner gives on the same data: the same examples in the same
splits, the same metrics, the same gate, version 1 pushed. The packages Beam's workers install
are built once (TFX would build its sdist for every Beam job) and a warm rerun builds nothing.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.clusters.processes import free_port
from tests.fixtures.cli import run_cli
from tests.fixtures.same_run import assert_same_run, config_for, pipeline_root, run_id

pytestmark = [pytest.mark.slow, pytest.mark.runners]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"a Beam service ended (exit {process.returncode})"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """Beam's job service and an SDK worker pool (EXTERNAL environment) in this environment."""
    folder = tmp_path_factory.mktemp("beam-services")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    job, pool = free_port(), free_port()
    commands = {"job-service": ["apache_beam.runners.portability.local_job_service_main",
                                "--port", str(job)],
                "worker-pool": ["apache_beam.runners.worker.worker_pool_main",
                                "--service_port", str(pool)]}
    processes = []
    for name, (module, *args) in commands.items():
        with open(folder / f"{name}.log", "wb") as log:
            processes.append(subprocess.Popen([sys.executable, "-m", module, *args], env=env,
                                              stdout=log, stderr=subprocess.STDOUT))
    try:
        for port, process in zip((job, pool), processes, strict=True):
            _wait_for_port(port, process)
        yield job, pool
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


def test_the_portable_runner_gives_what_the_direct_runner_gives(services, direct_run, tmp_path):
    job, pool = services
    portable_config = config_for(tmp_path, f"""
[beam]
runner = "PortableRunner"
job_endpoint = "localhost:{job}"
extra_args = ["--environment_type=EXTERNAL", "--environment_config=localhost:{pool}"]
""")
    portable = run_cli("run", "--config", str(portable_config))
    out = portable.stdout
    assert portable.returncode == 0, out + portable.stderr
    assert f"Beam PortableRunner at localhost:{job}" in out
    assert out.count("building the packages Beam's workers install") == 1
    root = pipeline_root(tmp_path)
    assert_same_run(root, direct_run)

    packages = sorted((tmp_path / "out" / ".beam-packages").glob("*.tar.gz"))
    assert [p.name.split("-")[0] for p in packages] == ["tabular_tfx", "tfx_ephemeral"]
    assert all(gzip.open(p).read(2) for p in packages)  # real archives
    log = (root / "runs" / run_id(root) / "run.log").read_text()
    assert "Creating temporary sdist" not in log  # TFX did not package itself per Beam job
    built = [p.stat().st_mtime_ns for p in packages]

    again = run_cli("run", "--config", str(portable_config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "building the packages" not in again.stdout
    assert [p.stat().st_mtime_ns for p in packages] == built

