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


def _keys_of(path: str, patterns: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(sorted({key for pattern, keys in patterns.items()
                         if fnmatch.fnmatch(path, pattern) for key in keys}))


class _ReadFile(beam.DoFn):
    """A TFRecord file -> (key, a list of up to BATCH_SIZE serialized records), for each key its
    path has: TensorFlow's reader checks, inflates and batches the records in C++ (Beam's
    per-record reader, and keying each record, were most of DataDrift's time)."""

    def __init__(self, patterns: dict[str, tuple[str, ...]]):
        self._patterns = patterns

    def process(self, path: str):
        import tensorflow as tf

        keys = _keys_of(path, self._patterns)
        dataset = tf.data.TFRecordDataset(
            path, compression_type="GZIP" if path.endswith(".gz") else "",
            buffer_size=1 << 22).batch(BATCH_SIZE)
        for batch in dataset.as_numpy_iterator():
            records = batch.tolist()
            for key in keys:
                yield key, records


def read_keyed_batches(pipeline, patterns: dict[str, tuple[str, ...]], name: str = "Read"):
    """(key, serialized records) batches of the TFRecord files each glob pattern matches, under
    each key `patterns` gives it ({pattern: keys}: a file may belong to several datasets, and
    several patterns to one; `folder/*` is a folder). Each file is read once, as a whole (files
    spread over Beam's workers, not one file's records)."""
    files = sorted({path for pattern in patterns for path in fileio.glob(pattern)})
    return (pipeline
            | f"{name}.Files" >> beam.Create(files)
            | f"{name}.Spread" >> beam.Reshuffle()
            | f"{name}.Records" >> beam.ParDo(_ReadFile(patterns)))


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
