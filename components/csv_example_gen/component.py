"""CsvExampleGen of this project: TFX's file-based ExampleGen (driver, spans, splits, output
layout) with the executor of executor.py and an input fingerprint that includes the files'
contents (driver.py)."""

from __future__ import annotations

from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.csv_example_gen import executor as executor_lib
from components.csv_example_gen.driver import Driver
from components.csv_example_gen.executor import Executor
from components.csv_example_gen.params import CsvFormat
from components.shared.params import component_fingerprint, encode

__all__ = ["CsvExampleGen", "CsvExampleGenSpec"]


class CsvExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        executor_lib.CSV_FORMAT_KEY: ExecutionParameter(type=str, optional=True),
        executor_lib.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
    }


class CsvExampleGen(base_beam_component.BaseBeamComponent):
    """CSV files under `input_base` as tf.Examples, one span per execution, split by hash.

    What TFX's CsvExampleGen makes of the same files (the same examples, the same split of
    each), except that a missing value is any of `csv_format.missing_values` (not only the empty
    cell), a number may have spaces around it, a quoted field may hold line breaks (TFX's reads a
    line at a time), the delimiter is `csv_format.delimiter`, and a column named in
    `csv_format.column_types` has that type in every span. It reads and encodes
    whole columns at once (Arrow, tfx-bsl's C++ encoder) rather than a cell at a time.
    """

    SPEC_CLASS = CsvExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = Driver

    def __init__(self, input_base: str, input_config: example_gen_pb2.Input,
                 output_config: example_gen_pb2.Output,
                 range_config: range_config_pb2.RangeConfig | None = None,
                 csv_format: CsvFormat | None = None):
        super().__init__(spec=CsvExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            csv_format=encode(csv_format or CsvFormat()),
            code_fingerprint=component_fingerprint(__file__),
            examples=channel.Channel(type=standard_artifacts.Examples)))
