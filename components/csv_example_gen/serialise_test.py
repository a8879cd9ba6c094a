"""The column-wise serialiser against protobuf's own deterministic serialisation, on values that
stretch the wire format: negative and huge integers, every float kind, long and non-ASCII text,
missing and kindless cells, names whose byte order differs from their insertion order."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor as tfx_base
from tfx.proto import example_gen_pb2
from tfx_bsl.coders import example_coder

from components.csv_example_gen import serialise
from components.csv_example_gen.writing import split_of


def _protobufs(batch: pa.RecordBatch) -> list[bytes]:
    """What the serialiser must give: tfx-bsl's encoding, written again deterministically."""
    encoded = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    return [tf.train.Example.FromString(r).SerializeToString(deterministic=True)
            for r in encoded]


def _one_value_lists(values: list, kind: pa.DataType) -> pa.Array:
    return pa.array([[] if v is None else [v] for v in values], pa.large_list(kind))


INTS = [0, 1, -1, 127, 128, 300, 16383, 16384, 2**31, -2**31, 2**63 - 1, -2**63, None]
FLOATS = [0.0, -0.0, 1.5, -2.25, 3.4e38, 1e-45, math.inf, -math.inf, math.nan, None, 7.0,
          123456.789, -1e-3]
TEXTS = [b"", b"a", b"x" * 127, b"y" * 128, b"z" * 20000, "é€😀".encode(), b" spaced ",
         b"\x00\xff", None, b"Credit Card", b"0", b"-", b"NA"]


def test_every_kind_of_value_serialises_as_protobuf_does():
    rows = len(INTS)
    batch = pa.RecordBatch.from_arrays(
        [_one_value_lists(INTS, pa.int64()), _one_value_lists(FLOATS, pa.float32()),
         _one_value_lists(TEXTS, pa.large_binary()),
         pa.nulls(rows, pa.large_list(pa.large_binary())),
         _one_value_lists([None] * rows, pa.int64())],
        # Not in byte order; upper case sorts before "_" and lower case, "Ä" after them.
        ["Zeta", "Ä_float", "alpha text", "empty", "_none"])
    ours = serialise.serialise(batch)
    assert len(ours) == rows
    assert ours == _protobufs(batch)


def test_a_wide_random_batch_serialises_as_protobuf_does():
    random = np.random.default_rng(7)
    rows = 5000
    columns, names = [], []
    for index in range(40):
        missing = random.random(rows) < 0.2
        if index % 3 == 0:
            values = random.integers(-2**62, 2**62, rows) >> random.integers(0, 62, rows)
            kind = pa.int64()
        elif index % 3 == 1:
            values = random.normal(0, 10.0 ** random.integers(-30, 30), rows)
            kind = pa.float32()
        else:
            values = [bytes(random.integers(0, 256, random.integers(0, 300)).astype(np.uint8))
                      for _ in range(rows)]
            kind = pa.large_binary()
        cells = [None if gone else value for gone, value in zip(missing, list(values), strict=True)]
        columns.append(_one_value_lists(cells, kind))
        names.append(f"column_{random.integers(0, 10**6)}_{index}")
    batch = pa.RecordBatch.from_arrays(columns, names)
    assert serialise.serialise(batch) == _protobufs(batch)


def test_an_empty_batch_has_no_examples_and_a_list_of_values_is_refused():
    empty = pa.RecordBatch.from_arrays([pa.array([], pa.large_list(pa.int64()))], ["a"])
    assert serialise.serialise(empty) == []
    two = pa.RecordBatch.from_arrays([pa.array([[1, 2]], pa.large_list(pa.int64()))], ["a"])
    with pytest.raises(ValueError, match="more than one value"):
        serialise.serialise(two)


@pytest.mark.parametrize("buckets", [[3, 4], [1, 2, 10], [7]])
def test_a_record_goes_to_the_split_tfxs_example_gen_gives_it(buckets):
    splits = example_gen_pb2.SplitConfig()
    records = [f"record {i}".encode() * (i % 5 + 1) for i in range(500)]
    ours = [split_of(r, buckets) for r in records]
    theirs = [tfx_base._PartitionFn(r, len(buckets), buckets, splits) for r in records]
    assert ours == theirs
    assert len(set(ours)) == len(buckets)
