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
