"""The memoised DoFn introspection (pipeline/beam_patches.py) answers exactly as Beam does."""

from __future__ import annotations

import apache_beam as beam
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from tensorflow_transform.tf_metadata import schema_utils
from tfx_bsl.public import tfxio

from pipeline.orchestration import beam_patches

ORIGINAL = getattr(userstate.get_dofn_specs, "original", userstate.get_dofn_specs)
TOTAL = ReadModifyWriteStateSpec("total", VarIntCoder())
OTHER = ReadModifyWriteStateSpec("other", VarIntCoder())
TOTAL_STATE, OTHER_STATE = beam.DoFn.StateParam(TOTAL), beam.DoFn.StateParam(OTHER)


class RunningTotal(beam.DoFn):
    """A stateful DoFn: the running total per key."""

    def process(self, element, total=TOTAL_STATE):
        key, value = element
        current = (total.read() or 0) + value
        total.write(current)
        yield key, current


class Counts:
    def count(self, element, state=TOTAL_STATE):
        yield element


class Others:
    def count(self, element, state=OTHER_STATE):
        yield element


class Delegating(beam.DoFn):
    """A DoFn whose process is bound on the instance to another object's method."""

    def __init__(self, target):
        super().__init__()
        self.process = target.count


class Hooked(Delegating):
    def _inspect_process(self):
        return ["element"], []


def _preprocessing_fn(inputs):
    return {"z": tft.scale_to_z_score(inputs["x"]),
            "id": tft.compute_and_apply_vocabulary(inputs["s"]),
            "bucket": tft.bucketize(inputs["x"], 3)}


def _real_dofns(tmp_path) -> list[beam.DoFn]:
    """Every DoFn of a TFDV statistics pass and a tf.Transform analysis, as TFDV and
    tf.Transform build them for the components (built, not run)."""
    spec = {"x": tf.io.FixedLenFeature([], tf.float32), "s": tf.io.FixedLenFeature([], tf.string)}
    path = str(tmp_path / "examples.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(20):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
                "s": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab"[i % 2:][:1]])),
            })).SerializeToString())
    examples = tfxio.TFExampleRecord(file_pattern=path,
                                     schema=schema_utils.schema_from_feature_spec(spec))
    pipeline = beam.Pipeline()
    raw = pipeline | examples.BeamSource()
    with tft_beam.Context(temp_dir=str(tmp_path / "tft")):
        _ = ((raw, examples.TensorAdapterConfig())
             | tft_beam.AnalyzeAndTransformDataset(_preprocessing_fn, output_record_batches=True))
    _ = raw | tfdv.GenerateStatistics()
    _ = pipeline | "Totals" >> beam.Create([("a", 1)]) | beam.ParDo(RunningTotal())

    dofns = []

    class Collect(beam.pipeline.PipelineVisitor):
        def visit_transform(self, applied):
            if isinstance(applied.transform, beam.ParDo):
                dofns.append(applied.transform.fn)

    pipeline.visit(Collect())
    return dofns


def test_every_real_dofn_gets_the_answer_beam_gives(tmp_path):
    dofns = _real_dofns(tmp_path)
    memo = beam_patches.memoized(ORIGINAL)
    for dofn in dofns:
        assert memo(dofn) == ORIGINAL(dofn), dofn
    assert len(dofns) > 100
    # The cache is shared across instances: far fewer entries than DoFns.
    assert 0 < len(memo.cache) < len(dofns) / 3
    assert memo(RunningTotal()) == ({TOTAL}, set())


def test_instance_bound_methods_are_told_apart_and_hooks_are_not_memoised():
    memo = beam_patches.memoized(ORIGINAL)
    counts, others = Delegating(Counts()), Delegating(Others())
    assert memo(counts) == ORIGINAL(counts) == ({TOTAL}, set())
    assert memo(others) == ORIGINAL(others) == ({OTHER}, set())
    assert beam_patches.class_key(Hooked(Counts())) is None

    class Dynamic(beam.DoFn):
        def __getattr__(self, name):
            raise AttributeError(name)

    assert beam_patches.class_key(Dynamic()) is None


def test_callers_get_sets_of_their_own():
    memo = beam_patches.memoized(ORIGINAL)
    states, _ = memo(RunningTotal())
    states.clear()
    assert memo(RunningTotal()) == ({TOTAL}, set())


def test_a_stateful_dofn_still_runs_as_one(monkeypatch):
    monkeypatch.setattr(userstate, "get_dofn_specs", beam_patches.memoized(ORIGINAL))
    with beam.Pipeline() as pipeline:
        totals = (pipeline | beam.Create([("a", 1), ("a", 2), ("b", 5), ("a", 3)])
                  | beam.ParDo(RunningTotal()) | beam.Filter(lambda kv: kv[0] == "b"
                                                              or kv[1] == 6))
        assert_that(totals, equal_to([("a", 6), ("b", 5)]))


def test_install_only_on_the_measured_beam_version_and_only_once(monkeypatch):
    monkeypatch.setattr(userstate, "get_dofn_specs", ORIGINAL)
    monkeypatch.setattr(beam, "__version__", "2.60.0")
    assert beam_patches.install() is False
    assert userstate.get_dofn_specs is ORIGINAL
    monkeypatch.setattr(beam, "__version__", beam_patches.BEAM_VERSION)
    assert beam_patches.install() is True
    installed = userstate.get_dofn_specs
    assert installed.original is ORIGINAL
    assert beam_patches.install() is True
    assert userstate.get_dofn_specs is installed


def test_the_locked_beam_is_the_one_the_patch_was_measured_on():
    # After a Beam upgrade install() does nothing: re-measure, then move BEAM_VERSION.
    assert beam.__version__ == beam_patches.BEAM_VERSION
