"""Hash-bucket splits written a batch at a time: split assignment and gzipped TFRecord files
without a Beam element per example.

TFX's ExampleGen writes each split through `WriteSplit`: a Beam element per example, a
Reshuffle (a GroupByKey on a random key per example) and Beam's TFRecord sink; per example, that
is most of the ingestion's time at a million rows. On the DirectRunner that Reshuffle keeps the
input's order (its groups come out in the order their keys first came in), so a split's file
holds its examples in the order of the CSV. Here each batch of examples is divided by split
(TFX's rule, `split_of`), Beam groups the pieces by split (a few elements per batch), and each
split is written in the input's order, as that one file, by TensorFlow's TFRecord writer.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterable, Iterator

FILE_NAME = "data_tfrecord"  # TFX's name for ExampleGen's files


def split_of(record: bytes, buckets: list[int]) -> int:
    """The split TFX's ExampleGen gives a serialised example: its SHA-256 as an integer, modulo
    the buckets, in the split whose cumulative bucket count exceeds it."""
    bucket = int.from_bytes(hashlib.sha256(record).digest(), "big") % buckets[-1]
    return bisect.bisect(buckets, bucket)


def pieces(batch: tuple[int, int, list[bytes]], buckets: list[int]
           ) -> Iterator[tuple[int, tuple[int, int, list[bytes]]]]:
    """(split, (file index, batch index, examples)) for a batch of a file."""
    file_index, batch_index, records = batch
    parts: dict[int, list[bytes]] = {}
    for record in records:
        parts.setdefault(split_of(record, buckets), []).append(record)
    for split, part in sorted(parts.items()):
        yield split, (file_index, batch_index, part)


def _file(folder: str) -> str:
    return os.path.join(folder, f"{FILE_NAME}-00000-of-00001.gz")


def _write_file(folder: str, records: Iterable[bytes]) -> str:
    """`records` as the folder's gzipped TFRecord file, written aside then renamed; its path."""
    import tensorflow as tf

    path = _file(folder)
    tf.io.gfile.makedirs(folder)
    aside = f"{path}.tmp"
    with tf.io.TFRecordWriter(aside, options="GZIP") as writer:
        for record in records:
            writer.write(record)
    tf.io.gfile.rename(aside, path, overwrite=True)
    return path


def write_examples(element: tuple[int, Iterable[tuple[int, int, list[bytes]]]],
                   split_dirs: list[str]) -> str:
    """Writes a split's examples in the input's order; the file's path."""
    split, grouped = element
    ordered = sorted(grouped, key=lambda piece: piece[:2])
    return _write_file(split_dirs[split], (r for _, _, part in ordered for r in part))


def write_missing_splits(split_dirs: list[str]) -> None:
    """An empty file for each split no example went to, as TFX's sink writes one."""
    import tensorflow as tf

    for folder in split_dirs:
        if not tf.io.gfile.exists(_file(folder)):
            _write_file(folder, [])
