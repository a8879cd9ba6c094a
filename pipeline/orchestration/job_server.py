"""Before a run on a job server's runner: that something answers at `[beam] job_endpoint`, so
that a cluster that is not running stops the run in one line before anything starts, not each
Beam component after Beam's own minute of waiting."""

from __future__ import annotations

import socket

from pipeline.config import Config, ConfigError
from pipeline.config.sections import JOB_SERVER_RUNNERS, LOCAL_CLUSTERS


def check_job_server(config: Config, timeout: float = 5.0) -> None:
    """Raises ConfigError when the runner submits to a job server and none answers."""
    beam = config.beam
    if beam.runner not in JOB_SERVER_RUNNERS:
        return
    host, _, port = beam.job_endpoint.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
            return
    except ValueError:
        why = "it is not host:port"
    except OSError as error:
        why = error.strerror or str(error)
    name = LOCAL_CLUSTERS.get(beam.runner, ("",))[0]
    start = f"'make {name}' (tfxpipe {name} start)" if name else "its job server's own command"
    raise ConfigError(f"no Beam job server answers at '{beam.job_endpoint}' ([beam] "
                      f"job_endpoint, runner = '{beam.runner}'): {why}; start one with {start}, "
                      "or point job_endpoint at yours")
