"""The Transform executor (executor.py) against TFX's own on the same small real artifacts:
raw tf.Examples in several gzipped files per split, the project's preprocessing_fn. The same
transformed examples, in the same order but for the files' (ours reads a split's files sorted by
name, TFX's in the order the file system lists them), and the same transform graph; and the
examples were read by TensorFlow's reader (components/shared/tfrecord_reading.py), not Beam's."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.tf_metadata import schema_utils
from tfx.components.transform import executor as tfx_executor
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.shared import tfrecord_reading as reading
from components.transform import executor
from tests.fixtures.tiny import BASE_CONFIG, raw_example, tiny_rows
from tests.fixtures.transform import SPEC


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> dict[str, str]:
    """Examples (train in three files, one of them empty; eval in one) and the schema."""
    root = tmp_path_factory.mktemp("raw")
    rows = tiny_rows(300, seed=5)
    files = {"train": [rows[:120], [], rows[120:240]], "eval": [rows[240:]]}
    for split, parts in files.items():
        os.makedirs(root / "examples" / f"Split-{split}")
        for index, part in enumerate(parts):
            path = root / "examples" / f"Split-{split}" / f"data_tfrecord-{index:05d}.gz"
            with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
                for row in part:
                    writer.write(raw_example(row))
    io_utils.write_pbtxt_file(str(root / "schema" / "schema.pbtxt"),
                              schema_utils.schema_from_feature_spec(SPEC))
    return {"examples": str(root / "examples"), "schema": str(root / "schema")}


def _run(executor_class, raw: dict[str, str], out: str) -> dict[str, str]:
    examples = standard_artifacts.Examples()
    examples.uri = raw["examples"]
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    schema = standard_artifacts.Schema()
    schema.uri = raw["schema"]
    outputs = {"transform_graph": standard_artifacts.TransformGraph(),
               "transformed_examples": standard_artifacts.Examples()}
    for name, artifact in outputs.items():
        artifact.uri = os.path.join(out, name)
    context = BaseBeamExecutor.Context(beam_pipeline_args=["--direct_running_mode=in_memory"],
                                       tmp_dir=os.path.join(out, "tmp"))
    executor_class(context).Do(
        {"examples": [examples], "schema": [schema]},
        {name: [artifact] for name, artifact in outputs.items()},
        {"preprocessing_fn": "pipeline.modules.transform.preprocessing_fn",
         "custom_config": json.dumps(BASE_CONFIG), "force_tf_compat_v1": 1,
         "disable_statistics": 1})
    return {name: artifact.uri for name, artifact in outputs.items()}


def _examples(folder: str) -> list[dict[str, list]]:
    """The folder's examples in order, parsed (the bytes of two runs of TFX's own executor
    differ in the order of an example's features)."""
    paths = sorted(tf.io.gfile.glob(os.path.join(folder, "*")))
    parsed = [tf.train.Example.FromString(r.numpy())
              for p in paths for r in tf.data.TFRecordDataset(p, "GZIP")]
    return [{name: list(getattr(f, f.WhichOneof("kind")).value)
             for name, f in example.features.feature.items()} for example in parsed]


def _same_examples(found: list[dict], expected: list[dict]) -> None:
    """The same examples in the same order: integers (vocabulary indices, buckets, the label)
    equal; floats to float32 rounding. tf.Transform's means and variances are sums over
    batches, and TFX's batches are sized by Beam from timings, so two runs of TFX's own
    executor differ in the last bits too (docs/performance.md, "Transform")."""
    assert len(found) == len(expected)
    for one, other in zip(found, expected, strict=True):
        assert sorted(one) == sorted(other)
        for name, values in other.items():
            if values and isinstance(values[0], float):
                np.testing.assert_allclose(one[name], values, rtol=1e-5, atol=1e-6)
            else:
                assert one[name] == values, name


def _in_sorted_file_order(examples: list[dict], raw_split: str) -> list[dict]:
    """TFX's transformed examples of a split, which follow its raw files in the order Beam's
    file system lists them, rearranged file by file into the files' sorted order (ours)."""
    from apache_beam.io.filesystems import FileSystems

    listed = [m.path for m in FileSystems.match([os.path.join(raw_split, "*")])[0].metadata_list]
    chunks, start = {}, 0
    for path in listed:
        count = sum(1 for _ in tf.data.TFRecordDataset(path, "GZIP"))
        chunks[path], start = examples[start:start + count], start + count
    assert start == len(examples)
    return [example for path in sorted(listed) for example in chunks[path]]


def test_the_same_transformed_examples_and_graph_as_tfxs_executor(raw, tmp_path, files_read):
    stock = _run(tfx_executor.Executor, raw, str(tmp_path / "stock"))
    assert files_read == []  # TFX's executor reads with Beam's reader
    ours = _run(executor.Executor, raw, str(tmp_path / "ours"))
    # Analysis reads train; transformation reads train and eval: each file once per pass.
    assert sorted(files_read) == sorted(["data_tfrecord-00000.gz"] * 3
                                        + ["data_tfrecord-00001.gz"] * 2
                                        + ["data_tfrecord-00002.gz"] * 2)
    for split, rows in (("train", 240), ("eval", 60)):
        found = _examples(os.path.join(ours["transformed_examples"], f"Split-{split}"))
        _same_examples(found, _in_sorted_file_order(
            _examples(os.path.join(stock["transformed_examples"], f"Split-{split}")),
            os.path.join(raw["examples"], f"Split-{split}")))
        assert len(found) == rows
    graphs = [tft.TFTransformOutput(o["transform_graph"]) for o in (stock, ours)]
    assert graphs[0].transformed_feature_spec() == graphs[1].transformed_feature_spec()
    assets = [sorted(tf.io.gfile.glob(os.path.join(g.transform_savedmodel_dir, "assets", "*")))
              for g in graphs]
    assert [os.path.basename(a) for a in assets[0]] == [os.path.basename(a) for a in assets[1]]
    for one, other in zip(*assets, strict=True):  # the vocabularies the analysis computed
        assert open(one, "rb").read() == open(other, "rb").read()
    assert assets[0]


def test_a_projection_reads_the_same_way(raw, files_read):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from tfx_bsl.tfxio import tf_example_record

    schema = schema_utils.schema_from_feature_spec(SPEC)
    fast = reading.FastTFExampleRecord.of(tf_example_record.TFExampleRecord(
        file_pattern=[os.path.join(raw["examples"], "Split-eval", "*")], schema=schema))
    projected = fast.Project(["fare"])
    with beam.Pipeline() as pipeline:
        shapes = (pipeline | projected.BeamSource(batch_size=1000)
                  | beam.Map(lambda batch: (tuple(batch.schema.names), batch.num_rows)))
        assert_that(shapes, equal_to([(("fare",), 60)]))
    assert files_read == ["data_tfrecord-00000.gz"]
