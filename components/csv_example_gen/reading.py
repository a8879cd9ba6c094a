"""A CSV file as tf.Examples, column by column with Arrow: read, missing values found, typed,
serialised in batches (serialise.py).

The examples are those TFX's CsvExampleGen makes of the same file, to the byte of their
deterministic serialisation (what ExampleGen hashes to assign a split), with three differences
that are the point: a missing value is any of `CsvFormat.missing_values` (CsvExampleGen knows
only the empty cell), a number may have spaces around it, and a quoted field may hold line
breaks (CsvExampleGen reads a line at a time). Like CsvExampleGen's:
- a present value is a one-value feature; a missing one an empty list of the column's type;
  a column with no value in any row of the span has kindless features;
- a column is int if every present value is an integer in int64's range, else float if every
  one is a number (stored as float32), else bytes (the cell's text as written).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from components.csv_example_gen import serialise
from components.csv_example_gen.params import CsvFormat

# UNKNOWN < INT < FLOAT < BYTES: a span's column takes the widest type of its files.
UNKNOWN, INT, FLOAT, BYTES = "unknown", "int", "float", "bytes"
_ORDER = {UNKNOWN: 0, INT: 1, FLOAT: 2, BYTES: 3}
_BLOCK_BYTES = 16 << 20


def header(path: str, fmt: CsvFormat) -> list[str]:
    """The column names of a file's first line (a UTF-8 byte-order mark is not part of them)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle, delimiter=fmt.delimiter), [])


def read_batches(path: str, fmt: CsvFormat) -> Iterator[pa.RecordBatch]:
    """The file's rows as batches of string columns (the text of each cell, "" when empty)."""
    names = header(path, fmt)
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1,
                                        block_size=_BLOCK_BYTES,
                                        skip_rows_after_names=0),
        # A quoted field may hold line breaks (a comment, an address): one record, as the CSV
        # format has it (TFX's CsvExampleGen reads a line at a time and fails on it). It costs
        # no time measurable at 1.5M rows.
        parse_options=pa_csv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.large_string() for name in names},
            strings_can_be_null=False, quoted_strings_can_be_null=False))
    yield from reader  # the header row, a byte-order mark with it, is skipped (skip_rows=1)


def present(column: pa.Array, fmt: CsvFormat) -> pa.Array:
    """The cells' text with surrounding spaces removed, null where the value is missing."""
    trimmed = pc.utf8_trim_whitespace(column)
    tokens = pa.array(sorted({t.strip().lower() for t in fmt.missing_values}),
                      type=pa.large_string())
    missing = pc.is_in(pc.utf8_lower(trimmed), value_set=tokens)
    return pc.if_else(missing, pa.scalar(None, pa.large_string()), trimmed)


def value_type(values: pa.Array) -> str:
    """The narrowest type every present value fits (the values as `present` returns them)."""
    if values.null_count == len(values):
        return UNKNOWN
    looks_integer = pc.match_substring_regex(values, _INTEGER)
    try:
        integers = _as_int64(values.filter(looks_integer))
    except pa.ArrowInvalid:
        # An integer beyond int64's range makes the column text, as CsvExampleGen types it.
        return BYTES
    if len(integers) == len(values) - values.null_count:
        return INT
    try:
        pc.cast(values, pa.float64())
        return FLOAT
    except pa.ArrowInvalid:
        return BYTES


_INTEGER = r"^[+-]?[0-9]+$"


def _as_int64(values: pa.Array) -> pa.Array:
    """Integers written as Python's int() reads them (a leading + allowed)."""
    return pc.cast(pc.replace_substring_regex(values, r"^\+", ""), pa.int64())


def widest(kinds: list[str]) -> str:
    return max(kinds, key=_ORDER.__getitem__, default=UNKNOWN)


def file_types(path: str, fmt: CsvFormat) -> dict[str, str]:
    """{column: type} of one file, from its values (a column typed by `fmt` keeps its type)."""
    types: dict[str, str] = {name: UNKNOWN for name in header(path, fmt)}
    for batch in read_batches(path, fmt):
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if name not in fmt.column_types:
                types[name] = widest([types[name], value_type(present(column, fmt))])
    return {**types, **{k: v for k, v in fmt.column_types.items() if k in types}}


def typed_column(raw: pa.Array, kind: str, fmt: CsvFormat) -> pa.Array:
    """A column of one-value lists: [value] where present, [] where missing (None for every
    row of an all-missing column, which the encoder writes as a kindless feature)."""
    values = present(raw, fmt)
    if kind == UNKNOWN:
        return pa.nulls(len(raw), pa.large_list(pa.large_binary()))
    if kind == BYTES:
        # The cell's text as written (spaces kept), as CsvExampleGen keeps it.
        values = pc.if_else(pc.is_null(values), values, raw)
        typed = pc.cast(values, pa.large_binary())
    elif kind == FLOAT:
        typed = pc.cast(pc.cast(values, pa.float64()), pa.float32())
    else:
        typed = _as_int64(values)
    lengths = pc.if_else(pc.is_null(typed), 0, 1).cast(pa.int64())
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(lengths)])
    return pa.LargeListArray.from_arrays(offsets, typed.drop_null())


def to_record_batch(batch: pa.RecordBatch, types: dict[str, str], fmt: CsvFormat
                    ) -> pa.RecordBatch:
    names = batch.schema.names
    columns = []
    for name, column in zip(names, batch.columns, strict=True):
        try:
            columns.append(typed_column(column, types[name], fmt))
        except pa.ArrowInvalid as error:
            raise ValueError(f"column '{name}' holds a value that is not {types[name]}: "
                             f"{error}") from error
    return pa.RecordBatch.from_arrays(columns, names)


def span_types(files: list[str], fmt: CsvFormat) -> dict[str, str]:
    """{column: type} over every file: the widest type a column has in any of them."""
    per_file = [file_types(path, fmt) for path in files]
    return {name: widest([types[name] for types in per_file])
            for name in per_file[0]}


def encode_batches(path: str, types: dict[str, str], fmt: CsvFormat) -> Iterator[list[bytes]]:
    """The file's rows as serialised tf.Examples, a batch at a time."""
    for batch in read_batches(path, fmt):
        yield serialise.serialise(to_record_batch(batch, types, fmt))


def encode_file(path: str, types: dict[str, str], fmt: CsvFormat) -> Iterator[bytes]:
    for records in encode_batches(path, types, fmt):
        yield from records
