"""tf.Examples serialised column by column: the bytes protobuf's deterministic serialisation
gives (features sorted by name), for a whole batch at once, with no protobuf object per row.

ExampleGen assigns a split by hashing each example's deterministic serialisation. tfx-bsl's
encoder writes a batch in C++ but in no fixed feature order, so each record had to be parsed and
written again in Python (most of the ingestion's time). Here the wire format is assembled with
Arrow and NumPy instead. The columns are those `reading.to_record_batch` makes: lists of int64,
float32 or binary values, or a null column (a kindless feature). components/csv_example_gen/
serialise_test.py checks the bytes against protobuf's own on dirty data.

The wire format (tensorflow/core/example/example.proto, feature.proto), every message length-
prefixed with a varint: Example{1: Features{1: entry*}}, entry{1: name, 2: Feature},
Feature{1: BytesList | 2: FloatList | 3: Int64List} (an empty list is present but empty, a
kindless feature is an empty Feature), BytesList{1: value*}, FloatList{1: packed fixed32},
Int64List{1: packed varint}.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_EMPTY = pa.scalar(b"", pa.large_binary())
_KIND_TAGS = {pa.types.is_large_binary: b"\x0a", pa.types.is_floating: b"\x12",
              pa.types.is_integer: b"\x1a"}


def varints(values: np.ndarray) -> pa.LargeBinaryArray:
    """Each unsigned 64-bit value as a protobuf varint (a negative int64 takes ten bytes)."""
    rest = values.astype(np.uint64, copy=True)
    lengths = np.ones(len(rest), np.int64)
    planes = []
    while True:  # one byte of every value per turn, while any value has more
        low = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest != 0
        planes.append(low | (more.astype(np.uint8) << 7))
        if not more.any():
            break
        lengths += more
    if len(planes) == 1:
        return _binary(planes[0], lengths)
    data = np.stack(planes, axis=1)[np.arange(len(planes)) < lengths[:, None]]
    return _binary(data, lengths)


def _binary(data: np.ndarray, lengths: np.ndarray) -> pa.LargeBinaryArray:
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), len(lengths),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _lengths(values: pa.LargeBinaryArray) -> np.ndarray:
    return pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.int64)


def _empties(rows: int) -> pa.LargeBinaryArray:
    return pa.array([b""] * rows, pa.large_binary())


def _join(*parts) -> pa.LargeBinaryArray:
    return pc.binary_join_element_wise(*parts, _EMPTY)


def field(tag: bytes, payload: pa.LargeBinaryArray) -> pa.LargeBinaryArray:
    """A length-delimited field on every row: tag, varint length, payload."""
    return _join(pa.scalar(tag, pa.large_binary()), varints(_lengths(payload)), payload)


def _payloads(values: pa.Array) -> pa.LargeBinaryArray:
    """Each present value's encoded bytes: a varint, four little-endian bytes, or the bytes."""
    if pa.types.is_integer(values.type):
        return varints(values.to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64))
    if pa.types.is_floating(values.type):
        data = values.to_numpy(zero_copy_only=False).astype("<f4").view(np.uint8)
        return _binary(data, np.full(len(values), 4, np.int64))
    return values.cast(pa.large_binary())


def _spread(lists: pa.LargeBinaryArray, present: np.ndarray) -> pa.LargeBinaryArray:
    """`lists` holds one entry per present row, in row order: the same bytes on every row,
    empty where the row has no value."""
    offsets = np.frombuffer(lists.buffers()[1], np.int64)[lists.offset:lists.offset + len(lists)
                                                          + 1]
    data = np.frombuffer(lists.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    lengths = np.zeros(len(present), np.int64)
    lengths[present] = np.diff(offsets)
    return _binary(data, lengths)


def feature(column: pa.Array) -> pa.LargeBinaryArray:
    """Each row's Feature message (without its own tag and length); a null row is kindless."""
    if column.null_count == len(column):
        return _empties(len(column))
    counts = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    if counts.max(initial=0) > 1:
        raise ValueError("a cell holds more than one value; a CSV column holds one per row")
    values = column.flatten()
    tag = next(t for is_kind, t in _KIND_TAGS.items() if is_kind(values.type))
    encoded = _payloads(values)
    if pa.types.is_floating(values.type):
        # Packed fixed32 values: one field of 4 bytes per row with a value.
        lists = _join(pa.scalar(b"\x0a\x04", pa.large_binary()), encoded)
    else:
        lists = field(b"\x0a", encoded)
    features = field(tag, _spread(lists, counts == 1))
    if column.null_count:
        features = pc.if_else(pc.is_null(column), _EMPTY, features)
    return features


def serialise(batch: pa.RecordBatch) -> list[bytes]:
    """Every row of `batch` as a serialised tf.Example, features in name order."""
    if batch.num_rows == 0:
        return []
    order = sorted(range(batch.num_columns), key=lambda i: batch.schema.names[i].encode())
    entries = []
    for index in order:
        name = batch.schema.names[index].encode("utf-8")
        key = b"\x0a" + varints(np.array([len(name)], np.uint64))[0].as_py() + name
        body = _join(pa.scalar(key, pa.large_binary()),
                     field(b"\x12", feature(batch.column(index))))
        entries.append(field(b"\x0a", body))
    features = _join(*entries) if entries else _empties(batch.num_rows)
    return field(b"\x0a", features).to_pylist()
