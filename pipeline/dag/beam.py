"""The Beam arguments every Beam-based component of a run gets, from the [beam] section."""

from __future__ import annotations

from pipeline.config import Config

DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file",
                    "--worker_harness_container_image", "--sdk_container_image")
DIRECT_SDK_IMAGE = "apache/beam_python3.10_sdk:2.59.0"


def beam_pipeline_args(config: Config) -> list[str]:
    beam = config.beam
    if beam.runner == "PortableRunner":
        args = ["--runner=PortableRunner", f"--job_endpoint={beam.job_endpoint}"]
    else:
        args = [f"--direct_running_mode={beam.direct_running_mode}",
                f"--direct_num_workers={beam.direct_num_workers}"]
        if not any(a.startswith(DEPENDENCY_FLAGS) for a in beam.extra_args):
            # TFX re-packages its own install as an sdist for Beam's workers on every Beam
            # component execution unless a dependency flag is set (tfx/utils/
            # dependency_utils.py): seconds each, and useless to the DirectRunner, whose
            # workers run in this Python environment. Naming the SDK image, which the
            # DirectRunner does not use, skips it; it matters with a span per execution.
            args.append(f"--sdk_container_image={DIRECT_SDK_IMAGE}")
    return args + list(beam.extra_args)
