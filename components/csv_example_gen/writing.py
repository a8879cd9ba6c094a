"""Hash-bucket splits written where each batch is encoded: split assignment and gzipped
TFRecord files without a Beam element per example, and without moving the examples again.

TFX's ExampleGen writes each split through `WriteSplit`: a Beam element per example, a
Reshuffle (a GroupByKey on a random key per example) and Beam's TFRecord sink; per example, that
is most of the ingestion's time at a million rows. Here each batch of a file's examples is
divided by split (TFX's rule, `split_of`) and each piece is written at once, by TensorFlow's
TFRecord writer, as its own file of the split: `data_tfrecord-<file>-<batch>.gz`, the file's
and the batch's indexes zero-padded, so the split's files sorted by name hold its examples in the
order of the CSV files and their rows (the order TFX's ExampleGen writes them on the
DirectRunner). A file is written aside (in `aside_dir`, outside every split, under a name of its
own) and renamed into its split: a reader of `Split-<name>/*` never sees half a file, and a batch
written twice (a retried bundle) leaves one copy.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

FILE_NAME = "data_tfrecord"  # TFX's name for ExampleGen's files
_DIGITS = 5  # of a file's or a batch's index in a file name: names sort in order below 100,000


def split_of(record: bytes, buckets: list[int]) -> int:
    """The split TFX's ExampleGen gives a serialised example: its SHA-256 as an integer, modulo
    the buckets, in the split whose cumulative bucket count exceeds it."""
    bucket = int.from_bytes(hashlib.sha256(record).digest(), "big") % buckets[-1]
    return bisect.bisect(buckets, bucket)


def file_name(file_index: int, batch_index: int) -> str:
    """The name of the file holding a batch's piece of a split."""
    return f"{FILE_NAME}-{file_index:0{_DIGITS}d}-{batch_index:0{_DIGITS}d}.gz"


def write_batch(name: str, records: list[bytes], buckets: list[int], split_dirs: list[str],
                aside_dir: str) -> list[str]:
    """Writes a batch of examples divided by split, as the file `name` in each split it has
    examples for; the files' paths."""
    parts: dict[int, list[bytes]] = {}
    for record in records:
        parts.setdefault(split_of(record, buckets), []).append(record)
    return [write_file(os.path.join(split_dirs[split], name), part, aside_dir)
            for split, part in sorted(parts.items())]


def write_batches(file_index: int, batches: Iterable[list[bytes]], buckets: list[int],
                  split_dirs: list[str], aside_dir: str) -> Iterator[str]:
    """`write_batch` for each batch of examples of the file `file_index`, in a thread beside
    the one making the next batch (TensorFlow's writer compresses, and Arrow computes, without
    holding Python's lock), one batch at most waiting to be written; the paths written, batch
    after batch."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-batch") as pool:
        waiting: Future | None = None
        for batch_index, records in enumerate(batches):
            submitted = pool.submit(write_batch, file_name(file_index, batch_index), records,
                                    buckets, split_dirs, aside_dir)
            if waiting is not None:
                yield from waiting.result()
            waiting = submitted
        if waiting is not None:
            yield from waiting.result()


def write_file(path: str, records: Iterable[bytes], aside_dir: str) -> str:
    """`records` as the gzipped TFRecord file `path`, written in `aside_dir` then renamed."""
    import tensorflow as tf

    tf.io.gfile.makedirs(aside_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    aside = os.path.join(aside_dir, f"{uuid.uuid4().hex}.gz")
    with tf.io.TFRecordWriter(aside, options="GZIP") as writer:
        for record in records:
            writer.write(record)
    tf.io.gfile.rename(aside, path, overwrite=True)
    return path


def write_missing_splits(split_dirs: list[str], aside_dir: str) -> None:
    """An empty file for each split no example went to, as TFX's sink writes one."""
    import tensorflow as tf

    for folder in split_dirs:
        if not tf.io.gfile.glob(os.path.join(folder, f"{FILE_NAME}-*")):
            write_file(os.path.join(folder, file_name(0, 0)), [], aside_dir)
