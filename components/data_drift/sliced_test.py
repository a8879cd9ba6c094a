"""read_keyed_batches on real TFRecord files: gzipped and plain, empty, longer than a batch,
a file under two keys, a key over two files."""

import os

import apache_beam as beam
import tensorflow as tf
from apache_beam.testing.util import assert_that

from components.data_drift.sliced import BATCH_SIZE, read_keyed_batches


def _write(path: str, records: list[bytes], gzip: bool) -> None:
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
    with tf.io.TFRecordWriter(path, options) as writer:
        for record in records:
            writer.write(record)


def test_each_record_once_under_each_key_of_its_file_in_batches(tmp_path):
    files = {"span/a.gz": [b"a%d" % i for i in range(2 * BATCH_SIZE + 7)],
             "span/b": [b"b%d" % i for i in range(3)],
             "span/empty.gz": [],
             "other/c.gz": [b"c0", b"c1"]}
    for name, records in files.items():
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        _write(str(tmp_path / name), records, gzip=name.endswith(".gz"))
    patterns = {str(tmp_path / "span" / "*"): ("span",),
                str(tmp_path / "span" / "a.gz"): ("train",),
                str(tmp_path / "other" / "*"): ("previous", "train")}

    def check(batches):
        assert all(0 < len(records) <= BATCH_SIZE for _, records in batches)
        found: dict[str, list[bytes]] = {}
        for key, records in batches:
            found.setdefault(key, []).extend(records)
        expected = {"span": files["span/a.gz"] + files["span/b"],
                    "train": files["span/a.gz"] + files["other/c.gz"],
                    "previous": files["other/c.gz"]}
        assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v)
                                                            for k, v in expected.items()}
        # A file's records keep their order within it.
        assert [r for r in found["span"] if r.startswith(b"a")] == files["span/a.gz"]

    with beam.Pipeline() as pipeline:
        assert_that(read_keyed_batches(pipeline, patterns), check)
