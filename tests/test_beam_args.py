"""The Beam arguments of a run's components: what each runner's workers are given to install."""

from pipeline.config import load_config
from pipeline.dag.beam import DIRECT_SDK_IMAGE, beam_pipeline_args

PORTABLE = '[beam]\nrunner = "PortableRunner"\njob_endpoint = "localhost:8099"\n'


def test_direct_runner_workers_install_nothing(toy):
    args = beam_pipeline_args(load_config(toy()))
    assert f"--sdk_container_image={DIRECT_SDK_IMAGE}" in args  # so TFX builds no sdist
    assert not any(a.startswith("--extra_package") for a in args)


def test_portable_runner_workers_install_the_packages_built_once_in_the_output_root(toy):
    config = load_config(toy(extra=PORTABLE))
    args = beam_pipeline_args(config)
    packages = [a.split("=", 1)[1] for a in args if a.startswith("--extra_package=")]
    folder = config.output_root / ".beam-packages"
    assert packages == [str(folder / "tfx_ephemeral-1.16.0.tar.gz"),
                        str(folder / "tabular_tfx-0.1.0.tar.gz")]
    assert args[:2] == ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]


def test_dependencies_named_in_extra_args_replace_the_built_packages(toy):
    extra = PORTABLE + 'extra_args = ["--setup_file=/src/setup.py"]\n'
    args = beam_pipeline_args(load_config(toy(extra=extra)))
    assert not any(a.startswith(("--extra_package", "--sdk_container_image")) for a in args)
    assert args[-1] == "--setup_file=/src/setup.py"


def test_flink_runner_gets_its_job_server_and_an_sdk_harness_in_process(toy):
    extra = '[beam]\nrunner = "FlinkRunner"\njob_endpoint = "localhost:8099"\nparallelism = 2\n'
    args = beam_pipeline_args(load_config(toy(extra=extra)))
    assert args == ["--runner=FlinkRunner", "--job_endpoint=localhost:8099", "--parallelism=2",
                    "--execution_mode_for_batch=BATCH_FORCED", "--environment_type=LOOPBACK",
                    f"--sdk_container_image={DIRECT_SDK_IMAGE}"]  # so TFX builds no sdist


def test_flink_runner_with_a_worker_pool_installs_the_built_packages(toy):
    extra = ('[beam]\nrunner = "FlinkRunner"\njob_endpoint = "localhost:8099"\n'
             'extra_args = ["--environment_type=EXTERNAL", "--environment_config=h:50000"]\n')
    config = load_config(toy(extra=extra))
    args = beam_pipeline_args(config)
    assert args[:2] == ["--runner=FlinkRunner", "--job_endpoint=localhost:8099"]
    assert sum(a.startswith("--extra_package=") for a in args) == 2
    assert not any(a.startswith(("--sdk_container_image", "--parallelism")) for a in args)
    assert "--execution_mode_for_batch=BATCH_FORCED" in args
    assert args[-2:] == ["--environment_type=EXTERNAL", "--environment_config=h:50000"]


def test_spark_runner_gets_its_job_server_and_no_parallelism_of_flinks(toy):
    extra = '[beam]\nrunner = "SparkRunner"\njob_endpoint = "localhost:8097"\nparallelism = 4\n'
    args = beam_pipeline_args(load_config(toy(extra=extra)))
    assert args == ["--runner=SparkRunner", "--job_endpoint=localhost:8097",
                    "--environment_type=LOOPBACK", f"--sdk_container_image={DIRECT_SDK_IMAGE}"]
