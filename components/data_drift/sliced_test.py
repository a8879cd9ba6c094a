"""read_part_batches and write_statistics on real TFRecord files and tables: gzipped and plain
files, an empty one, one longer than a batch, a file in two datasets, a dataset over two files;
statistics of datasets sharing records equal to TFDV's own for each dataset alone."""

import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from apache_beam.testing.util import assert_that
from tensorflow_metadata.proto.v0 import schema_pb2

from components.data_drift.sliced import (
    BATCH_SIZE,
    Stats,
    parts_of_files,
    read_part_batches,
    read_statistics,
    write_statistics,
)


def _write(path: str, records: list[bytes], gzip: bool) -> None:
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
    with tf.io.TFRecordWriter(path, options) as writer:
        for record in records:
            writer.write(record)


def test_each_record_once_under_the_part_of_its_file_in_batches(tmp_path):
    files = {"span/a.gz": [b"a%d" % i for i in range(2 * BATCH_SIZE + 7)],
             "span/b": [b"b%d" % i for i in range(3)],
             "span/empty.gz": [],
             "other/c.gz": [b"c0", b"c1"],
             "unread/d.gz": [b"d0"]}
    for name, records in files.items():
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        _write(str(tmp_path / name), records, gzip=name.endswith(".gz"))
    patterns = {str(tmp_path / "span" / "*"): ("span",),
                str(tmp_path / "span" / "a.gz"): ("train",),
                str(tmp_path / "other" / "*"): ("previous", "train")}

    def check(batches):
        assert all(0 < len(records) <= BATCH_SIZE for _, records in batches)
        found: dict[tuple, list[bytes]] = {}
        for part, records in batches:
            found.setdefault(part, []).extend(records)
        expected = {("span", "train"): files["span/a.gz"],
                    ("span",): files["span/b"],
                    ("previous", "train"): files["other/c.gz"]}
        assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v)
                                                            for k, v in expected.items()}
        # A file's records keep their order within it.
        assert found[("span", "train")] == files["span/a.gz"]

    with beam.Pipeline() as pipeline:
        assert_that(read_part_batches(pipeline, parts_of_files(patterns)), check)


def _table(rows: int, seed: int) -> pa.RecordBatch:
    """A dirty table: a float with missing values, an int, a string with missing and empty
    values, and a two-valued string list."""
    rng = np.random.default_rng(seed)
    floats = [None if rng.random() < 0.1 else [float(v)] for v in rng.normal(3, 2, rows)]
    ints = [[int(v)] for v in rng.integers(0, 50, rows)]
    words = [None if rng.random() < 0.1 else [rng.choice([b"a", b"b", b"", b"c d"])]
             for _ in range(rows)]
    pairs = [[b"x", rng.choice([b"y", b"z"])] for _ in range(rows)]
    return pa.RecordBatch.from_arrays(
        [pa.array(floats, pa.large_list(pa.float32())), pa.array(ints, pa.large_list(pa.int64())),
         pa.array(words, pa.large_list(pa.large_binary())),
         pa.array(pairs, pa.large_list(pa.large_binary()))],
        ["fare", "trips", "company", "tags"])


def _stock(batches: list[pa.RecordBatch], options, path: str) -> Stats:
    """TFDV's own Beam statistics of `batches` alone."""
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create(batches) | tfdv.GenerateStatistics(options)
             | tfdv.WriteStatisticsToBinaryFile(path))
    return tfdv.load_stats_binary(path)


def _buckets(histogram) -> list[tuple]:
    return [(histogram.type, pytest.approx(b.low_value), pytest.approx(b.high_value),
             pytest.approx(b.sample_count)) for b in histogram.buckets]


@pytest.mark.parametrize("with_schema", [False, True])
def test_statistics_of_overlapping_datasets_equal_each_dataset_alone(tmp_path, with_schema):
    train = [_table(700, seed) for seed in range(3)]
    evaluation = [_table(300, 10 + seed) for seed in range(2)]
    previous = [_table(500, 20)]
    options = tfdv.StatsOptions()
    if with_schema:
        schema = tfdv.infer_schema(_stock(train, options, str(tmp_path / "s.pb")))
        tfdv.set_domain(schema, "trips", schema_pb2.IntDomain(
            min=0, max=49, is_categorical=True))
        options = tfdv.StatsOptions(schema=schema)
    parts = ([(("span", "train"), b) for b in train] + [(("eval", "span"), b) for b in evaluation]
             + [(("previous",), b) for b in previous])
    path = str(tmp_path / "stats.pb")
    with beam.Pipeline() as pipeline:
        _ = write_statistics(pipeline | beam.Create(parts), options, path, "Test")
    found = read_statistics(path)

    assert set(found) == {"span", "train", "eval", "previous"}
    for name, batches in {"span": train + evaluation, "train": train, "eval": evaluation,
                          "previous": previous}.items():
        expected = _stock(batches, options, str(tmp_path / f"{name}.pb")).datasets[0]
        got = found[name].datasets[0]
        assert got.num_examples == expected.num_examples
        by_name = {f.path.step[0]: f for f in got.features}
        assert set(by_name) == {f.path.step[0] for f in expected.features}
        for feature in expected.features:
            actual = by_name[feature.path.step[0]]
            assert actual.type == feature.type
            if feature.HasField("num_stats"):
                for field in ("mean", "std_dev", "min", "max", "num_zeros"):
                    assert getattr(actual.num_stats, field) == pytest.approx(
                        getattr(feature.num_stats, field), rel=1e-6), (name, feature.path)
                assert (actual.num_stats.common_stats.num_non_missing
                        == feature.num_stats.common_stats.num_non_missing)
                assert (actual.num_stats.common_stats.num_missing
                        == feature.num_stats.common_stats.num_missing)
                assert ([_buckets(h) for h in actual.num_stats.histograms]
                        == [_buckets(h) for h in feature.num_stats.histograms])
            else:
                assert actual.string_stats.unique == feature.string_stats.unique
                assert actual.string_stats.common_stats == feature.string_stats.common_stats
                assert ({(b.label, b.sample_count)
                         for b in actual.string_stats.rank_histogram.buckets}
                        == {(b.label, b.sample_count)
                            for b in feature.string_stats.rank_histogram.buckets})


def test_no_records_no_statistics(tmp_path):
    path = str(tmp_path / "stats.pb")
    with beam.Pipeline() as pipeline:
        _ = write_statistics(pipeline | beam.Create([]), tfdv.StatsOptions(), path, "Test")
    assert read_statistics(path) == {}
