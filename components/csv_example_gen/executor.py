"""The CSV ExampleGen's executor: TFX's file-based ExampleGen (its driver, splits, span, version
and input fingerprint), with a reader that finds missing values as users write them and encodes
tf.Examples column by column (reading.py).

The columns' types are settled before Beam reads a row: from `CsvFormat.column_types` where it
names a column, else from every value of every file of the span, as TFX's CsvExampleGen types a
split (a column is int in every file or in none). Then each file is read and encoded in batches.
"""

from __future__ import annotations

import os
from typing import Any

import apache_beam as beam
from absl import logging
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs

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


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _CsvToExamples(pipeline: beam.Pipeline, exec_properties: dict[str, Any],  # noqa: N802
                   split_pattern: str) -> beam.pvalue.PCollection:
    """Serialised tf.Examples of the split's files (ExampleGen hashes the bytes to split)."""
    fmt = decode(exec_properties.get(CSV_FORMAT_KEY), CsvFormat, CsvFormat())
    files = split_files(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern,
                        fmt)
    types = reading.span_types(files, fmt)
    logging.info("CSV ExampleGen: %d file(s) of %s, columns typed %s", len(files),
                 split_pattern, types)
    return (pipeline
            | "Files" >> beam.Create(files)
            | "Encode" >> beam.FlatMap(reading.encode_file, types=types, fmt=fmt))


class Executor(BaseExampleGenExecutor):
    """CSV files -> tf.Examples, with the missing values and delimiter of `CsvFormat`."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802
        return _CsvToExamples
