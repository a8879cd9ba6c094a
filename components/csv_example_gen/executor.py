"""The CSV ExampleGen's executor: TFX's file-based ExampleGen (its driver, splits, span, version
and input fingerprint), with a reader that finds missing values as users write them and encodes
tf.Examples column by column (reading.py).

The columns' types are settled before Beam reads a row: from `CsvFormat.column_types` where it
names a column, else from every value of every file of the span, as TFX's CsvExampleGen types a
split (a column is int in every file or in none). Then each file is read and encoded in batches.

With hash-bucket output splits (the pipeline's), the examples are also assigned to splits a batch
at a time, by TFX's rule (SHA-256 of the deterministic serialisation, modulo the buckets), so
Beam carries batches until the splits are written, not one element per row.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from absl import logging
from tfx.components.example_gen import utils
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import reading
from components.csv_example_gen.params import CsvFormat
from components.shared.params import decode

CSV_FORMAT_KEY = "csv_format"
CODE_FINGERPRINT_KEY = "code_fingerprint"


def split_files(input_base: str, split_pattern: str, fmt: CsvFormat) -> list[str]:
    """The split's files, sorted; every one with the first one's header."""
    files = sorted(fileio.glob(os.path.join(input_base, split_pattern)))
    if not files:
        raise RuntimeError(f"split pattern {split_pattern} matches no file under {input_base}")
    columns = reading.header(files[0], fmt)
    for path in files[1:]:
        if reading.header(path, fmt) != columns:
            raise RuntimeError(f"{path} has another header than {files[0]}: files of one split "
                               "must have the same columns")
    return files


def _files_and_types(exec_properties: dict[str, Any], split_pattern: str
                     ) -> tuple[list[str], dict[str, str], CsvFormat]:
    fmt = decode(exec_properties.get(CSV_FORMAT_KEY), CsvFormat, CsvFormat())
    files = split_files(exec_properties[keys.INPUT_BASE_KEY], split_pattern, fmt)
    types = reading.span_types(files, fmt)
    logging.info("CSV ExampleGen: %d file(s) of %s, columns typed %s", len(files),
                 split_pattern, types)
    return files, types, fmt


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _CsvToExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any],  # noqa: N802
                   split_pattern: str) -> beam.pvalue.PCollection:
    """Serialised tf.Examples of the split's files (ExampleGen hashes the bytes to split)."""
    files, types, fmt = _files_and_types(exec_properties, split_pattern)
    return (pipeline
            | "Files" >> beam.Create(files)
            | "Encode" >> beam.FlatMap(reading.encode_file, types=types, fmt=fmt))


def split_of(record: bytes, buckets: list[int]) -> int:
    """The split TFX's ExampleGen gives a serialised example: its SHA-256 as an integer, modulo
    the buckets, in the split whose cumulative bucket count exceeds it."""
    bucket = int.from_bytes(hashlib.sha256(record).digest(), "big") % buckets[-1]
    return bisect.bisect(buckets, bucket)


def _split_batches(path: str, types: dict[str, str], fmt: CsvFormat, buckets: list[int]
                   ) -> Iterator[tuple[int, list[bytes]]]:
    """(split index, serialised examples) for every batch of the file and split."""
    for records in reading.encode_batches(path, types, fmt):
        parts: list[list[bytes]] = [[] for _ in buckets]
        for record in records:
            parts[split_of(record, buckets)].append(record)
        yield from ((index, part) for index, part in enumerate(parts) if part)


def _hash_splits(pipeline: beam.Pipeline, exec_properties: dict[str, Any],
                 pattern: str, output_config) -> dict[str, beam.pvalue.PCollection]:
    """{split name: serialised examples} of one input split divided by hash buckets."""
    files, types, fmt = _files_and_types(exec_properties, pattern)
    buckets = list(itertools.accumulate(s.hash_buckets for s in output_config.split_config.splits))
    parts = (pipeline
             | "Files" >> beam.Create(files)
             | "EncodeAndSplit" >> beam.FlatMap(_split_batches, types=types, fmt=fmt,
                                                buckets=buckets)
             | "SplitData" >> beam.Partition(lambda part, _: part[0], len(buckets)))
    return {split.name: parts[index] | f"Records[{split.name}]" >> beam.FlatMap(
        lambda part: part[1]) for index, split in enumerate(output_config.split_config.splits)}


class Executor(BaseExampleGenExecutor):
    """CSV files -> tf.Examples, with the missing values and delimiter of `CsvFormat`."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802
        return _CsvToExamples

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,  # noqa: N802
                               exec_properties: dict[str, Any]
                               ) -> dict[str, beam.pvalue.PCollection]:
        """Hash-bucket splits a batch at a time; any other split configuration as TFX's base
        does it (input splits as given, or a split by a feature's value)."""
        input_config = proto_utils.json_to_proto(exec_properties[keys.INPUT_CONFIG_KEY],
                                                 example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(exec_properties[keys.OUTPUT_CONFIG_KEY],
                                                  example_gen_pb2.Output())
        split_config = output_config.split_config
        if not split_config.splits or split_config.HasField("partition_feature_name"):
            return super().GenerateExamplesByBeam(pipeline, exec_properties)
        utils.generate_output_split_names(input_config, output_config)  # validates them
        if len(input_config.splits) != 1:
            raise ValueError("input must have only one split when output splits are given")
        return _hash_splits(pipeline, exec_properties, input_config.splits[0].pattern,
                            output_config)
