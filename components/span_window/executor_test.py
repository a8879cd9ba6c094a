"""SpanWindow executor on small real Examples artifacts (gzipped TFRecords of tf.Examples)."""

import json
import os

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.span_window.executor import Executor


def _examples(tmp_path, span: int, counts: dict[str, int], artifact_id: int):
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / f"examples-{span}")
    artifact.id = artifact_id
    artifact.split_names = artifact_utils.encode_split_names(list(counts))
    artifact.set_int_custom_property("span", span)
    artifact.set_string_custom_property("file_format", "tfrecords_gzip")
    artifact.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
    for split, count in counts.items():
        folder = os.path.join(artifact.uri, f"Split-{split}")
        os.makedirs(folder)
        path = os.path.join(folder, "data_tfrecord-00000-of-00001.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for i in range(count):
                feature = {"span": tf.train.Feature(int64_list=tf.train.Int64List(value=[span])),
                           "i": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}
                writer.write(tf.train.Example(features=tf.train.Features(
                    feature=feature)).SerializeToString())
    return artifact


def _spans_in(uri: str, split: str) -> list[int]:
    files = tf.io.gfile.glob(os.path.join(uri, f"Split-{split}", "*"))
    spans = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        spans.append(example.features.feature["span"].int64_list.value[0])
    return sorted(spans)


def test_the_window_holds_every_record_of_every_span_once(tmp_path):
    inputs = [_examples(tmp_path, 5, {"train": 6, "eval": 2}, 12),
              _examples(tmp_path, 3, {"train": 4, "eval": 1}, 7)]
    window = standard_artifacts.Examples()
    window.uri = str(tmp_path / "window")
    Executor().Do({"examples": inputs}, {"window": [window]}, {})
    assert artifact_utils.decode_split_names(window.split_names) == ["train", "eval"]
    assert _spans_in(window.uri, "train") == [3] * 4 + [5] * 6
    assert _spans_in(window.uri, "eval") == [3] + [5] * 2
    assert sorted(os.listdir(os.path.join(window.uri, "Split-train"))) == [
        "span-3-data_tfrecord-00000-of-00001.gz", "span-5-data_tfrecord-00000-of-00001.gz"]
    assert window.get_int_custom_property("span") == 5
    assert json.loads(window.get_string_custom_property("window_spans")) == [3, 5]
    assert json.loads(window.get_string_custom_property("window_examples_ids")) == [7, 12]
    assert window.get_string_custom_property("file_format") == "tfrecords_gzip"


def test_an_empty_window_is_an_error(tmp_path):
    window = standard_artifacts.Examples()
    window.uri = str(tmp_path / "window")
    with pytest.raises(ValueError, match="no span"):
        Executor().Do({"examples": []}, {"window": [window]}, {})
