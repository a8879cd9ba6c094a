"""The CSV ExampleGen's executor: TFX's file-based ExampleGen (its driver, splits, span, version
and input fingerprint), with a reader that finds missing values as users write them and encodes
tf.Examples column by column (reading.py).

The columns' types are settled before Beam reads a row: from `CsvFormat.column_types` where it
names a column, else from every value of every file of the span, as TFX's CsvExampleGen types a
split (a column is int in every file or in none). Then each file is read and encoded in batches.

With hash-bucket output splits (the pipeline's), the examples are assigned to splits by TFX's
rule and written a batch at a time where they are encoded (writing.py), not one Beam element per
row: a file per batch and split, whose names sort in the order TFX's ExampleGen writes the
examples on the DirectRunner; other split configurations go through TFX's base executor.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from absl import logging
from tfx import types
from tfx.components.example_gen import utils, write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import reading, writing
from components.csv_example_gen.params import CsvFormat
from components.shared.params import decode

CSV_FORMAT_KEY = "csv_format"
CODE_FINGERPRINT_KEY = "code_fingerprint"
ASIDE_DIR = ".aside"  # in the Examples artifact, beside its splits: files being written


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


def _write_batches(indexed_path: tuple[int, str], types: dict[str, str], fmt: CsvFormat,
                   buckets: list[int], split_dirs: list[str], aside_dir: str) -> Iterator[str]:
    """Encodes a file (its index, its path) a batch at a time and writes each batch's pieces
    of the splits (writing.py); the paths written."""
    file_index, path = indexed_path
    yield from writing.write_batches(file_index, reading.encode_batches(path, types, fmt),
                                     buckets, split_dirs, aside_dir)


def _write_hash_splits(pipeline: beam.Pipeline, exec_properties: dict[str, Any],
                       pattern: str, split_config, split_dirs: list[str], aside_dir: str) -> None:
    """The input split's examples divided by hash buckets and written (writing.py)."""
    files, types, fmt = _files_and_types(exec_properties, pattern)
    buckets = list(itertools.accumulate(s.hash_buckets for s in split_config.splits))
    _ = (pipeline
         | "Files" >> beam.Create(list(enumerate(files)))
         | "EncodeAndWrite" >> beam.FlatMap(_write_batches, types=types, fmt=fmt,
                                            buckets=buckets, split_dirs=split_dirs,
                                            aside_dir=aside_dir))


class Executor(BaseExampleGenExecutor):
    """CSV files -> tf.Examples, with the missing values and delimiter of `CsvFormat`."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802
        return _CsvToExamples

    def Do(self, input_dict: dict[str, list[types.Artifact]],  # noqa: N802
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        """Hash-bucket splits written a batch at a time (writing.py); any other split
        configuration as TFX's base executor does it (input splits as given, or a split by a
        feature's value)."""
        input_config = proto_utils.json_to_proto(exec_properties[keys.INPUT_CONFIG_KEY],
                                                 example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(exec_properties[keys.OUTPUT_CONFIG_KEY],
                                                  example_gen_pb2.Output())
        split_config = output_config.split_config
        if not split_config.splits or split_config.HasField("partition_feature_name"):
            return super().Do(input_dict, output_dict, exec_properties)
        if len(input_config.splits) != 1:
            raise ValueError("input must have only one split when output splits are given")
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[keys.EXAMPLES_KEY])
        names = utils.generate_output_split_names(input_config, output_config)
        examples.split_names = artifact_utils.encode_split_names(names)
        split_dirs = [artifact_utils.get_split_uri([examples], name) for name in names]
        aside_dir = os.path.join(examples.uri, ASIDE_DIR)
        with self._make_beam_pipeline() as pipeline:
            _write_hash_splits(pipeline, exec_properties, input_config.splits[0].pattern,
                               split_config, split_dirs, aside_dir)
        writing.write_missing_splits(split_dirs, aside_dir)
        if fileio.exists(aside_dir):
            fileio.rmtree(aside_dir)
        examples_utils.set_payload_format(examples, exec_properties.get(
            keys.OUTPUT_DATA_FORMAT_KEY, example_gen_pb2.FORMAT_TF_EXAMPLE))
        examples_utils.set_file_format(examples, write_split.to_file_format_str(
            exec_properties.get(keys.OUTPUT_FILE_FORMAT_KEY,
                                example_gen_pb2.FILE_FORMAT_UNSPECIFIED)))
        return None
