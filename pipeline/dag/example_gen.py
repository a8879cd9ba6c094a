"""CsvExampleGen for exactly one span, and the one place its input and range configs are built.

TFX's ExampleGen ingests one span per execution: a static range must start and end at the same
span (tensorflow/tfx issue 5462). The backfill asks TFX for the input fingerprint of a span with
the same configs (`input_split`, `range_config`), so that "already ingested" means what
ExampleGen's own cache means. The CSV's format (delimiter, missing values) is the same for every
span of a run. Columns are typed from their values, as TFX's CsvExampleGen types them, not from
the curated schema: an example's bytes decide its split, so a type taken from elsewhere would
move rows between train and eval (a column typed against the schema is the gates' finding).
"""

from __future__ import annotations

from tfx.proto import example_gen_pb2, range_config_pb2

from components.csv_example_gen import CsvExampleGen, CsvFormat
from pipeline.config import Config
from pipeline.dag.nodes import EXAMPLE_GEN
from pipeline.inputs.prepare import InputData
from pipeline.inputs.spans import has_span_spec

INPUT_SPLIT = "single_split"


def input_split(pattern: str) -> example_gen_pb2.Input.Split:
    """ExampleGen's one input split: every file the pattern matches."""
    return example_gen_pb2.Input.Split(name=INPUT_SPLIT, pattern=pattern)


def range_config(pattern: str, span: int) -> range_config_pb2.RangeConfig | None:
    """Exactly span `span`; None for a pattern without {SPAN} (all data is span 0)."""
    if not has_span_spec(pattern):
        return None
    return range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
        start_span_number=span, end_span_number=span))


def csv_format(config: Config, delimiter: str) -> CsvFormat:
    """How the files are read: the delimiter the pre-flight found, the configured missing
    values, the columns read as text whatever they look like."""
    return CsvFormat(delimiter=delimiter, missing_values=tuple(config.data.missing_values),
                     column_types={column: "bytes" for column in config.data.text_columns})


def example_gen(config: Config, data: InputData, span: int) -> CsvExampleGen:
    """CsvExampleGen for one span, hash-split into train and eval as the config says."""
    splits = [example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.split.train),
              example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.split.eval)]
    return CsvExampleGen(
        input_base=data.input_base,
        input_config=example_gen_pb2.Input(splits=[input_split(data.pattern)]),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=splits)),
        range_config=range_config(data.pattern, span),
        csv_format=csv_format(config, data.delimiter),
    ).with_id(EXAMPLE_GEN)
