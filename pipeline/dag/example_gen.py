"""CsvExampleGen for exactly one span, and the one place its input and range configs are built.

TFX's ExampleGen ingests one span per execution: a static range must start and end at the same
span (tensorflow/tfx issue 5462). The backfill asks TFX for the input fingerprint of a span with
the same configs (`input_split`, `range_config`), so that "already ingested" means what
ExampleGen's own cache means.
"""

from __future__ import annotations

from tfx.components import CsvExampleGen
from tfx.proto import example_gen_pb2, range_config_pb2

from pipeline.config import Config
from pipeline.dag.nodes import EXAMPLE_GEN
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


def example_gen(config: Config, input_base: str, pattern: str, span: int) -> CsvExampleGen:
    """CsvExampleGen for one span, hash-split into train and eval as the config says."""
    splits = [example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.split.train),
              example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.split.eval)]
    return CsvExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[input_split(pattern)]),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=splits)),
        range_config=range_config(pattern, span),
    ).with_id(EXAMPLE_GEN)
