"""The StatisticsGen executor (executor.py) against TFX's own on the same small real artifacts:
raw tf.Examples with missing values in several gzipped files per split (one empty, one longer
than a batch). The same statistics for every split and feature (sums of floats to rounding,
as two runs of TFX's own differ with Beam's batch sizes), and the examples were read by
TensorFlow's reader (components/shared/tfrecord_reading.py), not Beam's."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import json_format
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, standard_artifacts

from components.statistics_gen import executor
from tests.fixtures.compare import assert_same
from tests.fixtures.tiny import raw_example, tiny_rows


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> str:
    """Train in three files (one empty, one of 2,300 rows), eval in one."""
    root = tmp_path_factory.mktemp("raw")
    rows = tiny_rows(3000, seed=11)
    files = {"train": [rows[:2300], [], rows[2300:2600]], "eval": [rows[2600:]]}
    for split, parts in files.items():
        os.makedirs(root / f"Split-{split}")
        for index, part in enumerate(parts):
            path = root / f"Split-{split}" / f"data_tfrecord-{index:05d}.gz"
            with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
                for row in part:
                    writer.write(raw_example(row))
    return str(root)


def _run(executor_class, uri: str, out: str) -> dict[str, dict]:
    examples = standard_artifacts.Examples()
    examples.uri = uri
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = out
    context = BaseBeamExecutor.Context(beam_pipeline_args=["--direct_running_mode=in_memory"],
                                       tmp_dir=os.path.join(out, "tmp"))
    executor_class(context).Do({"examples": [examples]}, {"statistics": [statistics]},
                               {"exclude_splits": "[]"})
    assert artifact_utils.decode_split_names(statistics.split_names) == ["train", "eval"]
    found = {}
    for split in ("train", "eval"):
        stats = json_format.MessageToDict(tfdv.load_stats_binary(os.path.join(
            out, f"Split-{split}", "FeatureStats.pb")).datasets[0])
        stats["features"] = {f["path"]["step"][0]: f for f in stats["features"]}
        found[split] = stats  # features by name (their order is the order first seen)
    return found


def test_the_same_statistics_as_tfxs_executor(examples, tmp_path, files_read):
    stock = _run(tfx_executor.Executor, examples, str(tmp_path / "stock"))
    assert files_read == []  # TFX's executor reads with Beam's reader
    ours = _run(executor.Executor, examples, str(tmp_path / "ours"))
    assert sorted(files_read) == ["data_tfrecord-00000.gz"] * 2 + ["data_tfrecord-00001.gz",
                                                             "data_tfrecord-00002.gz"]
    assert int(ours["train"]["numExamples"]) == 2600 and int(ours["eval"]["numExamples"]) == 400
    assert_same(ours, stock, rel=1e-9)  # sums over differently sized batches
    # TFX's own name is restored after the call.
    assert tfx_executor.tfxio_utils is executor.tfxio_utils
