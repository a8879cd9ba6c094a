"""Hash-bucket splits written a batch at a time: split assignment, shuffle and gzipped TFRecord
files without a Beam element per row.

TFX's ExampleGen writes each split through `WriteSplit`: a Beam element per example, a
Reshuffle (a GroupByKey on a random key per example) and Beam's TFRecord sink. Per example
that is most of the ingestion's time at a million rows. Here each batch of examples is divided
by split (TFX's rule, `split_of`) and, within a split, among the split's shards at random; Beam
groups the shards' pieces (a few elements per batch) and each shard is written in a random order
by TensorFlow's TFRecord writer. The result is a shuffle as TFX's is (every example lands in a
random shard at a random place), and a reproducible one: the random draws are seeded by the
file, the batch and the shard, so the same input gives the same files.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

FILE_NAME = "data_tfrecord"  # TFX's name for ExampleGen's files
SHARD_BYTES = 64 << 20       # about this much CSV per shard of the largest split


def split_of(record: bytes, buckets: list[int]) -> int:
    """The split TFX's ExampleGen gives a serialised example: its SHA-256 as an integer, modulo
    the buckets, in the split whose cumulative bucket count exceeds it."""
    bucket = int.from_bytes(hashlib.sha256(record).digest(), "big") % buckets[-1]
    return bisect.bisect(buckets, bucket)


def shard_count(input_bytes: int) -> int:
    return max(1, min(64, math.ceil(input_bytes / SHARD_BYTES)))


def _seed(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode())


def pieces(batch: tuple[int, int, list[bytes]], buckets: list[int], shards: int
           ) -> Iterator[tuple[tuple[int, int], tuple[int, int, list[bytes]]]]:
    """((split, shard), (file index, batch index, examples)) for a batch of a file."""
    file_index, batch_index, records = batch
    random = np.random.default_rng(_seed(file_index, batch_index))
    drawn = random.integers(0, shards, len(records))
    parts: dict[tuple[int, int], list[bytes]] = {}
    for record, shard in zip(records, drawn.tolist(), strict=True):
        parts.setdefault((split_of(record, buckets), shard), []).append(record)
    for key, part in parts.items():
        yield key, (file_index, batch_index, part)


def write_shard(element: tuple[tuple[int, int], Iterable[tuple[int, int, list[bytes]]]],
                split_dirs: list[str], shards: int) -> str:
    """Writes a shard's examples, in a random order, as a gzipped TFRecord file (aside, then
    renamed); its path."""
    import tensorflow as tf

    (split, shard), grouped = element
    records = [r for _, _, part in sorted(grouped, key=lambda p: p[:2]) for r in part]
    order = np.random.default_rng(_seed(split, shard)).permutation(len(records))
    path = os.path.join(split_dirs[split], f"{FILE_NAME}-{shard:05d}-of-{shards:05d}.gz")
    tf.io.gfile.makedirs(split_dirs[split])
    aside = f"{path}.tmp"
    with tf.io.TFRecordWriter(aside, options="GZIP") as writer:
        for index in order.tolist():
            writer.write(records[index])
    tf.io.gfile.rename(aside, path, overwrite=True)
    return path
