"""The Beam arguments every Beam-based component of a run gets, from the [beam] section, and the
packages a runner's workers install (built by orchestration/packages.py)."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Config
from pipeline.config.sections import BeamSection

DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file",
                    "--worker_harness_container_image", "--sdk_container_image")
DIRECT_SDK_IMAGE = "apache/beam_python3.10_sdk:2.59.0"
PACKAGES_DIR = ".beam-packages"  # in the output root
IN_PROCESS = "LOOPBACK"  # Beam's name for an SDK harness in the submitting process
CLUSTER_RUNNERS = ("FlinkRunner", "SparkRunner")  # their SDK harness: in process by default


def worker_packages(config: Config) -> list[Path]:
    """The sdists a PortableRunner's workers install (TFX's executors repackaged as TFX does
    it, then this project's components and modules), at paths that stay the same from run to
    run so that they are no new input to TFX's cache. None for the DirectRunner, whose workers
    run in this environment, for Flink's and Spark's default SDK harness (in this process), or
    when `extra_args` name the dependencies themselves."""
    from importlib import metadata

    beam = config.beam
    if beam.runner == "DirectRunner" or _names_dependencies(beam.extra_args) or \
            _environment(beam) == IN_PROCESS:
        return []
    folder = config.output_root / PACKAGES_DIR
    return [folder / f"tfx_ephemeral-{metadata.version('tfx')}.tar.gz",
            folder / f"tabular_tfx-{metadata.version('tabular-tfx')}.tar.gz"]


def _names_dependencies(extra_args: list[str]) -> bool:
    return any(a.startswith(DEPENDENCY_FLAGS) for a in extra_args)


def _named_environment(beam: BeamSection) -> str | None:
    """The SDK harness's environment type that `extra_args` name (the last), or None."""
    named = [a.split("=", 1)[1] for a in beam.extra_args if a.startswith("--environment_type=")]
    return named[-1] if named else None


def _environment(beam: BeamSection) -> str:
    """The SDK harness's environment type that `extra_args` name, else the runner's default."""
    named = _named_environment(beam)
    return named if named is not None else IN_PROCESS if beam.runner in CLUSTER_RUNNERS else ""


def _flink_args(beam: BeamSection) -> list[str]:
    """Parallelism (Spark's is the worker's cores), and every exchange of a batch job blocking
    (unless `extra_args` choose): with Flink's pipelined exchanges, Transform's job at 1.5M rows
    stopped for good half way, every task waiting (FLINK-10672, which Beam's option names)."""
    args = [f"--parallelism={beam.parallelism}"] if beam.parallelism else []
    if not any(a.startswith("--execution_mode_for_batch") for a in beam.extra_args):
        args.append("--execution_mode_for_batch=BATCH_FORCED")
    return args


def beam_pipeline_args(config: Config) -> list[str]:
    beam = config.beam
    # Built once, not by TFX for every Beam job (it does unless a dependency flag is set).
    packages = [f"--extra_package={path}" for path in worker_packages(config)]
    if beam.runner == "PortableRunner":
        args = ["--runner=PortableRunner", f"--job_endpoint={beam.job_endpoint}", *packages]
    elif beam.runner in CLUSTER_RUNNERS:
        args = [f"--runner={beam.runner}", f"--job_endpoint={beam.job_endpoint}", *packages]
        if beam.runner == "FlinkRunner":
            args += _flink_args(beam)
        if _named_environment(beam) is None:
            # The SDK harness in the process that runs the component: its Python is this one.
            args.append(f"--environment_type={IN_PROCESS}")
    else:
        args = [f"--direct_running_mode={beam.direct_running_mode}",
                f"--direct_num_workers={beam.direct_num_workers}"]
    if not packages and not _names_dependencies(beam.extra_args):
        # TFX re-packages its own install as an sdist for Beam's workers on every Beam
        # component execution unless a dependency flag is set (tfx/utils/
        # dependency_utils.py): seconds each, and useless to workers that run in this Python
        # environment (the DirectRunner's, an SDK harness in process). Naming the SDK image,
        # which they do not use, skips it; it matters with a span per execution.
        args.append(f"--sdk_container_image={DIRECT_SDK_IMAGE}")
    return args + list(beam.extra_args)
