"""TFDV statistics of several datasets in one Beam pipeline, each record read, decoded and
summarised once.

A record may belong to several datasets (DataDrift: the span, and the window's train or eval
split; with a window of one span, every record is in two). Records are read and batched by the
set of datasets their file belongs to (a "part"); TFDV's combiner statistics (counts, moments,
quantile sketches) are accumulated once per part and the parts' accumulators merged into each
dataset's; TFDV's exact top-k and unique counts (a Beam transform, not a combiner) see each
dataset's batches. One statistics list per dataset, as TFDV's slicing gives.
"""

from __future__ import annotations

import copy

import apache_beam as beam
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.shared.tfrecord_reading import batches_of

BATCH_SIZE = 1000
Stats = statistics_pb2.DatasetFeatureStatisticsList
Part = tuple[str, ...]


def parts_of_files(patterns: dict[str, Part]) -> dict[str, Part]:
    """{file: its part}: every key of the glob patterns ({pattern: keys}) matching it (a file
    may belong to several datasets, and several patterns to one; `folder/*` is a folder)."""
    parts: dict[str, set[str]] = {}
    for pattern, keys in patterns.items():
        for path in fileio.glob(pattern):
            parts.setdefault(path, set()).update(keys)
    return {path: tuple(sorted(keys)) for path, keys in parts.items()}


class _ReadFile(beam.DoFn):
    """A TFRecord file -> (its part, a list of up to BATCH_SIZE serialized records), read by
    TensorFlow's reader (Beam's per-record reader was most of DataDrift's time)."""

    def __init__(self, parts: dict[str, Part]):
        self._parts = parts

    def process(self, path: str):
        for batch in batches_of(path, BATCH_SIZE):
            yield self._parts[path], batch


def read_part_batches(pipeline, parts: dict[str, Part], name: str = "Read"):
    """(part, serialized records) batches of the TFRecord files of `parts` ({file: part}, as
    `parts_of_files` gives). Each file is read once, as a whole (files spread over Beam's
    workers, not one file's records)."""
    return (pipeline
            | f"{name}.Files" >> beam.Create(sorted(parts))
            | f"{name}.Spread" >> beam.Reshuffle()
            | f"{name}.Records" >> beam.ParDo(_ReadFile(parts)))


class _Generators(beam.CombineFn):
    """TFDV's combiner statistics generators as one CombineFn whose output is still the
    accumulators (`merged`: its inputs are accumulators too, and the output statistics)."""

    def __init__(self, generators: list, merged: bool):
        self._generators = generators
        self._merged = merged

    def _each(self, method: str, *columns) -> list:
        """Each generator's `method` on its item of each column (one item per generator)."""
        return [getattr(g, method)(*items)
                for g, *items in zip(self._generators, *columns, strict=True)]

    def setup(self):
        for generator in self._generators:
            generator.setup()

    def create_accumulator(self):
        return self._each("create_accumulator")

    def add_input(self, accumulator, element):
        if self._merged:
            return self.merge_accumulators([accumulator, element])
        return self._each("add_input", accumulator, [element] * len(self._generators))

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        if not accumulators:
            return self.create_accumulator()
        return self._each("merge_accumulators", list(zip(*accumulators, strict=True)))

    def compact(self, accumulator):
        return self._each("compact", accumulator)

    def extract_output(self, accumulator):
        if not self._merged:
            return self.compact(accumulator)
        from tfx_bsl.statistics import merge_util

        merged = merge_util.merge_dataset_feature_statistics(
            self._each("extract_output", accumulator)).datasets
        return merged[0] if merged else statistics_pb2.DatasetFeatureStatistics()


def _to_datasets(element):
    """(part, accumulators) -> (dataset, a copy of the accumulators) for each of its datasets:
    TFDV's merges update accumulators in place and keep references to their inputs' parts."""
    part, accumulators = element
    for key in part:
        yield key, copy.deepcopy(accumulators)


def _named(dataset: str, statistics) -> Stats:
    single = Stats()
    single.datasets.add().CopyFrom(statistics)
    single.datasets[0].name = dataset
    return single


def write_statistics(part_record_batches, options, path: str, name: str):
    """TFDV statistics of (part, Arrow RecordBatch) pairs, one dataset per key of a part, to
    `path` (a statistics list, each dataset named by its key)."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    from tensorflow_data_validation.statistics.generators import stats_generator
    from tfx_bsl.statistics import merge_util

    generators = stats_impl.get_generators(options)
    combiners = [g for g in generators
                 if isinstance(g, stats_generator.CombinerStatsGenerator)]
    by_dataset = (part_record_batches
                  | f"{name}.ByDataset" >> beam.FlatMap(
                      lambda element: ((key, element[1]) for key in element[0])))
    results = [by_dataset | f"{name}.{g.name}" >> g.ptransform for g in generators
               if isinstance(g, stats_generator.TransformStatsGenerator)]
    if combiners:
        results.append(
            part_record_batches
            | f"{name}.PerPart" >> beam.CombinePerKey(_Generators(combiners, merged=False))
            | f"{name}.ToDatasets" >> beam.FlatMap(_to_datasets)
            | f"{name}.PerDataset" >> beam.CombinePerKey(_Generators(combiners, merged=True)))
    return (results
            | f"{name}.Flatten" >> beam.Flatten()
            | f"{name}.Name" >> beam.MapTuple(_named)
            | f"{name}.Merge" >> beam.CombineGlobally(
                merge_util.merge_dataset_feature_statistics_list)
            | f"{name}.Write" >> tfdv.WriteStatisticsToBinaryFile(path))


def read_statistics(path: str) -> dict[str, Stats]:
    """{key: a one-dataset statistics list, the dataset unnamed (as StatisticsGen's)}; none
    for no records at all (TFDV's placeholder, an unnamed dataset)."""
    merged = Stats()
    merged.ParseFromString(io_utils.read_bytes_file(path))
    sliced = {}
    for dataset in (d for d in merged.datasets if d.name):
        single = Stats()
        single.datasets.add().CopyFrom(dataset)
        single.datasets[0].name = ""
        sliced[dataset.name] = single
    return sliced
