"""TFDV statistics of several datasets in one Beam pipeline: records keyed by dataset, one
sliced statistics pass, one statistics list per dataset.

A TFDV pass per dataset repeats Beam's fixed cost per dataset, most of the time on a few hundred
rows; keyed as slices, all datasets share one pass.
"""

from __future__ import annotations

import fnmatch

import apache_beam as beam
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.dsl.io import fileio
from tfx.utils import io_utils

BATCH_SIZE = 1000
Stats = statistics_pb2.DatasetFeatureStatisticsList


def _by_key(batch: list[tuple[str, bytes]]):
    """A batch of (key, record) -> (key, records) per key. Files are read one after the other,
    so a batch nearly always holds a single key."""
    grouped: dict[str, list[bytes]] = {}
    for key, record in batch:
        grouped.setdefault(key, []).append(record)
    yield from grouped.items()


def _keys_of(path: str, patterns: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(key for pattern, keys in patterns.items() if fnmatch.fnmatch(path, pattern)
                 for key in keys)


def read_keyed_batches(pipeline, patterns: dict[str, tuple[str, ...]], name: str = "Read"):
    """(key, serialized records) batches of the TFRecord files each glob pattern matches, under
    each key `patterns` gives it ({pattern: keys}: a file may belong to several datasets, and
    several patterns to one; `folder/*` is a folder). Each file is read once."""
    files = sorted({path for pattern in patterns for path in fileio.glob(pattern)})
    return (pipeline
            | f"{name}.Files" >> beam.Create(files)
            | f"{name}.Records" >> beam.io.ReadAllFromTFRecord(with_filename=True)
            | f"{name}.Key" >> beam.FlatMap(
                lambda item, patterns: ((key, item[1]) for key in set(_keys_of(item[0],
                                                                               patterns))),
                patterns=patterns)
            | f"{name}.Batch" >> beam.BatchElements(min_batch_size=BATCH_SIZE // 10,
                                                    max_batch_size=BATCH_SIZE)
            | f"{name}.ByKey" >> beam.FlatMap(_by_key))


def write_sliced_statistics(keyed_record_batches, options, path: str, name: str):
    """TFDV statistics of (key, Arrow RecordBatch) pairs, one dataset per key, to `path`."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    return (keyed_record_batches
            | f"{name}.Statistics" >> stats_impl.GenerateSlicedStatisticsImpl(
                options, is_slicing_enabled=True)
            | f"{name}.Write" >> tfdv.WriteStatisticsToBinaryFile(path))


def read_sliced_statistics(path: str) -> dict[str, Stats]:
    """{key: a one-dataset statistics list, the dataset unnamed (as StatisticsGen's)}."""
    merged = Stats()
    merged.ParseFromString(io_utils.read_bytes_file(path))
    sliced = {}
    for dataset in merged.datasets:
        single = Stats()
        single.datasets.add().CopyFrom(dataset)
        single.datasets[0].name = ""
        sliced[dataset.name] = single
    return sliced
