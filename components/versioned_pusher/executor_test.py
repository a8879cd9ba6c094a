"""VersionedPusher executor on real artifacts: a tiny SavedModel, a schema proto, TFMA output."""

import datetime
import hashlib
import json
import logging
import math
import os
import shutil

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.shared.files import to_json
from components.shared.params import encode
from components.shared.tfma_metrics import metrics_of_records
from components.versioned_pusher import Provenance, PushDestination
from components.versioned_pusher import executor as executor_lib
from components.versioned_pusher.executor import Executor
from components.versioned_pusher.manifest import metrics_section

MODEL_NAME = "tipper"
DATA_FILES = [{"path": "/data/trips.csv", "sha256": "ab" * 32, "bytes": 1234}]
HYPERPARAMETERS = {"model": {"train_steps": 300, "layers": [8, 4]}}
CODE_REVISION = {"git_commit": "0123abc", "dirty": False, "code_fingerprint": "f00d"}


class Tiny(tf.Module):
    """outputs = sigmoid(w * x), served from serialized tf.Examples like the real model."""

    def __init__(self, weight: float):
        super().__init__()
        self.w = tf.Variable(weight)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        features = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        return {"outputs": tf.sigmoid(self.w * features["x"])}


def _example(x: float, label: float | None = None, colour: bytes = b"red", grade: int = 0) -> bytes:
    feature = {
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
        "colour": tf.train.Feature(bytes_list=tf.train.BytesList(value=[colour])),
        "grade": tf.train.Feature(int64_list=tf.train.Int64List(value=[grade])),
    }
    if label is not None:
        feature["label"] = tf.train.Feature(float_list=tf.train.FloatList(value=[label]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _model(root, name: str, artifact_id: int, weight: float = 2.0) -> standard_artifacts.Model:
    model = standard_artifacts.Model()
    model.uri = str(root / name)
    model.id = artifact_id
    module = Tiny(weight)
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"),
                        signatures={"serving_default": module.serve})
    return model


def _blessing(root, blessed: int) -> standard_artifacts.ModelBlessing:
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / f"blessing-{blessed}")
    blessing.id = 50 + blessed
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def _schema(root) -> standard_artifacts.Schema:
    schema = standard_artifacts.Schema()
    schema.uri = str(root / "schema")
    schema.id = 7
    proto = schema_pb2.Schema()
    proto.feature.add(name="x", type=schema_pb2.FLOAT)
    proto.feature.add(name="colour", type=schema_pb2.BYTES)
    io_utils.write_pbtxt_file(os.path.join(schema.uri, "schema.pbtxt"), proto)
    return schema


def _examples() -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = "/pipeline_root/CsvExampleGen/examples/3"
    examples.id = 3
    examples.span = 4
    examples.version = 1
    return examples


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory) -> standard_artifacts.ModelEvaluation:
    """Real TFMA output for the tiny model; it misses the AUC bound overall and on red."""
    root = tmp_path_factory.mktemp("tfma")
    model = _model(root, "model", 1)
    data = str(root / "data.tfrecord")
    with tf.io.TFRecordWriter(data) as writer:
        for i in range(40):
            x = (i - 20) / 10.0
            label = float(x + (0.5 if i % 3 == 0 else -0.2) > 0)
            writer.write(_example(x, label, [b"red", b"blue"][i % 2], i % 3))
    auc_bound = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": 0.99}))
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key="label",
                                    prediction_key="outputs")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["colour"]),
                       tfma.SlicingSpec(feature_keys=["colour", "grade"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AUC", threshold=auc_bound)])])
    artifact = standard_artifacts.ModelEvaluation()
    artifact.uri = str(root / "evaluation")
    tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(
            eval_saved_model_path=os.path.join(model.uri, "Format-Serving"), eval_config=config),
        eval_config=config, data_location=data, output_path=artifact.uri)
    return artifact


def _push(tmp_path, model, blessed=1, *, baseline=None, evaluation=None, full=True,
          context=None) -> standard_artifacts.PushedModel:
    """Runs the executor as the launcher would; `full=False` leaves out every optional input."""
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{model.id}")
    inputs = {"model": [model], "model_blessing": [_blessing(tmp_path, blessed)]}
    properties = {"destination": encode(PushDestination(str(tmp_path / "serving"), MODEL_NAME))}
    if full:
        inputs.update(schema=[_schema(tmp_path)], examples=[_examples()],
                      baseline_model=[baseline] if baseline else [],
                      model_evaluation=[evaluation] if evaluation else [])
        properties["provenance"] = encode(Provenance(
            data_files=tuple(DATA_FILES), hyperparameters=HYPERPARAMETERS,
            code_revision=CODE_REVISION))
    Executor(context).Do(inputs, {"pushed_model": [pushed]}, properties)
    return pushed


def _model_dir(tmp_path):
    return tmp_path / "serving" / MODEL_NAME


def _manifest(tmp_path, version: int) -> dict:
    return json.loads((_model_dir(tmp_path) / str(version) / "manifest.json").read_text())


def test_first_push_is_version_1_with_a_manifest_linking_everything(tmp_path, evaluation):
    model = _model(tmp_path, "model-a", 11)
    context = base_executor.BaseExecutor.Context(
        pipeline_info=pipeline_pb2.PipelineInfo(id="taxi"), pipeline_run_id="run-2024-01")
    pushed = _push(tmp_path, model, evaluation=evaluation, context=context)

    version_dir = _model_dir(tmp_path) / "1"
    assert sorted(os.listdir(_model_dir(tmp_path))) == ["1"]
    assert {"saved_model.pb", "variables", "manifest.json", "schema.pbtxt"} <= set(
        os.listdir(version_dir))
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == "1"
    assert pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert pushed.get_string_custom_property("manifest") == str(version_dir / "manifest.json")

    text = (version_dir / "manifest.json").read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert (tmp_path / "pushed-11" / "manifest.json").read_text() == text
    assert manifest["version"] == 1
    pushed_at = datetime.datetime.fromisoformat(manifest["pushed_at"])
    assert pushed_at.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - pushed_at).total_seconds() < 300
    assert (manifest["pipeline_name"], manifest["pipeline_run_id"]) == ("taxi", "run-2024-01")
    assert manifest["model"]["uri"] == model.uri and manifest["model"]["id"] == 11
    assert manifest["data_files"] == DATA_FILES
    assert manifest["examples"] == {"uri": "/pipeline_root/CsvExampleGen/examples/3", "id": 3,
                                    "span": 4, "version": 1}
    schema_bytes = (tmp_path / "schema" / "schema.pbtxt").read_bytes()
    assert (version_dir / "schema.pbtxt").read_bytes() == schema_bytes
    assert manifest["schema"]["sha256"] == hashlib.sha256(schema_bytes).hexdigest()
    assert manifest["schema"]["uri"] == str(tmp_path / "schema")
    assert manifest["hyperparameters"] == {**HYPERPARAMETERS, "tuned": None}  # no Tuner ran
    assert manifest["code_revision"] == CODE_REVISION
    assert manifest["blessing"]["blessed"] is True
    assert manifest["baseline_version"] is None and manifest["baseline_model"] is None

    overall = manifest["metrics"]["overall"]
    assert overall["example_count"] == 40
    assert 0.9 < overall["auc"] < 0.99
    slices = {json.dumps(s["slice"], sort_keys=True): s["metrics"]
              for s in manifest["metrics"]["slices"]}
    assert slices['{"colour": "red"}']["example_count"] == 20
    assert slices['{"colour": "blue", "grade": 1}']["example_count"] == 7
    assert len(slices) == 2 + 6


def test_the_manifest_records_the_hyperparameters_a_tuner_chose(tmp_path):
    model = _model(tmp_path, "model-tuned", 12)
    tuned = {"learning_rate": 0.003, "hidden_units": [128, 64]}
    with open(os.path.join(model.uri, "training_summary.json"), "w") as handle:
        json.dump({"tuned": tuned, "outputs": {"kind": "binary"}}, handle)
    _push(tmp_path, model)
    manifest = _manifest(tmp_path, 1)
    assert manifest["hyperparameters"] == {**HYPERPARAMETERS, "tuned": tuned}
    assert manifest["model"]["outputs"] == {"kind": "binary"}


def test_second_push_is_version_2_and_names_version_1_as_its_baseline(tmp_path):
    first = _model(tmp_path, "model-a", 11)
    _push(tmp_path, first)
    pushed = _push(tmp_path, _model(tmp_path, "model-b", 12, weight=3.0), baseline=first)

    assert pushed.get_string_custom_property("pushed_version") == "2"
    manifest = _manifest(tmp_path, 2)
    assert manifest["version"] == 2
    assert manifest["model"]["uri"] == str(tmp_path / "model-b")
    assert manifest["baseline_version"] == 1
    assert manifest["baseline_model"] == {"uri": first.uri, "id": 11}
    assert _manifest(tmp_path, 1)["model"]["uri"] == first.uri


def test_the_served_model_blessed_again_takes_no_new_version(tmp_path):
    first = _model(tmp_path, "model-a", 11)
    _push(tmp_path, first)
    again = _push(tmp_path, first)
    assert sorted(os.listdir(_model_dir(tmp_path))) == ["1"]
    assert again.get_int_custom_property("pushed") == 1
    assert again.get_int_custom_property("already_served") == 1
    assert again.get_string_custom_property("pushed_version") == "1"
    # An older model blessed against a newer one is a rollback: it gets the next number.
    _push(tmp_path, _model(tmp_path, "model-b", 12, weight=3.0), baseline=first)
    rollback = _push(tmp_path, first)
    assert rollback.get_string_custom_property("pushed_version") == "3"
    assert rollback.get_int_custom_property("already_served") == 0
    assert _manifest(tmp_path, 3)["model"]["uri"] == first.uri


def test_baseline_that_was_never_pushed_here_has_no_version(tmp_path):
    _push(tmp_path, _model(tmp_path, "model-a", 11))
    elsewhere = _model(tmp_path, "model-elsewhere", 5)
    _push(tmp_path, _model(tmp_path, "model-b", 12), baseline=elsewhere)
    assert _manifest(tmp_path, 2)["baseline_version"] is None


def test_not_blessed_pushes_nothing_and_logs_the_failed_thresholds(tmp_path, evaluation, caplog):
    with caplog.at_level(logging.WARNING):
        pushed = _push(tmp_path, _model(tmp_path, "model-a", 11), blessed=0,
                       evaluation=evaluation)

    assert pushed.get_int_custom_property("pushed") == 0
    assert not pushed.has_custom_property("pushed_version")
    assert not (tmp_path / "serving").exists()
    assert not (tmp_path / "pushed-11").exists()
    failures = [r.getMessage() for r in caplog.records if "failed: auc" in r.getMessage()]
    assert len(failures) == 2
    assert any("colour" in line and "red" in line for line in failures)
    assert all("(>= " in line for line in failures)  # the bound, in words


def test_leftover_temp_dir_and_stray_files_do_not_disturb_numbering(tmp_path):
    model_dir = _model_dir(tmp_path)
    (model_dir / "3").mkdir(parents=True)
    (model_dir / ".tmp-crashed").mkdir()
    (model_dir / ".tmp-crashed" / "saved_model.pb").write_bytes(b"half")
    (model_dir / "v9").mkdir()
    (model_dir / "12").write_text("a file, not a version")
    (model_dir / "notes.txt").write_text("stray")

    pushed = _push(tmp_path, _model(tmp_path, "model-a", 11), full=False)

    assert pushed.get_string_custom_property("pushed_version") == "4"
    assert sorted(os.listdir(model_dir)) == [".tmp-crashed", "12", "3", "4", "notes.txt", "v9"]
    manifest = _manifest(tmp_path, 4)
    assert manifest["version"] == 4
    assert manifest["pipeline_run_id"] is None and manifest["metrics"] is None
    assert manifest["schema"] is None and manifest["data_files"] is None
    assert not (model_dir / "4" / "schema.pbtxt").exists()


def test_failed_copy_leaves_neither_a_version_nor_a_temp_dir(tmp_path, monkeypatch):
    model = _model(tmp_path, "model-a", 11)
    real_copy, calls = fileio.copy, []

    def copy_then_fail(src, dst, overwrite=False):
        calls.append(dst)
        if len(calls) > 1:
            raise OSError("disk full")
        real_copy(src, dst, overwrite)

    monkeypatch.setattr(fileio, "copy", copy_then_fail)
    with pytest.raises(OSError, match="disk full"):
        _push(tmp_path, model)

    assert len(calls) == 2 and os.path.basename(os.path.dirname(calls[0])).startswith(".tmp-")
    assert os.listdir(_model_dir(tmp_path)) == []


def test_version_taken_concurrently_moves_on_to_the_next_number(tmp_path, monkeypatch):
    real_rename = os.rename

    def another_pusher_wins(src, dst):
        if dst.endswith(os.sep + "1"):
            os.makedirs(dst)
            open(os.path.join(dst, "saved_model.pb"), "wb").close()
        real_rename(src, dst)

    monkeypatch.setattr(executor_lib.os, "rename", another_pusher_wins)
    pushed = _push(tmp_path, _model(tmp_path, "model-a", 11), full=False)

    assert pushed.get_string_custom_property("pushed_version") == "2"
    assert _manifest(tmp_path, 2)["version"] == 2
    assert os.listdir(_model_dir(tmp_path) / "1") == ["saved_model.pb"]
    assert sorted(os.listdir(_model_dir(tmp_path))) == ["1", "2"]


def test_pushed_saved_model_loads_and_serves(tmp_path):
    pushed = _push(tmp_path, _model(tmp_path, "model-a", 11, weight=2.0), full=False)

    loaded = tf.saved_model.load(pushed.get_string_custom_property("pushed_destination"))
    examples = tf.constant([_example(0.0), _example(1.0)])
    outputs = loaded.signatures["serving_default"](examples=examples)["outputs"].numpy()
    assert outputs[:, 0].tolist() == pytest.approx([0.5, 1 / (1 + math.exp(-2.0))])


def test_manifest_json_is_strict_and_sorted():
    text = to_json({"b": float("nan"), "a": [1.5, float("inf")], "c": {"z": 1, "y": None}})
    assert json.loads(text) == {"a": [1.5, None], "b": None, "c": {"y": None, "z": 1}}
    assert text.index('"a"') < text.index('"b"') < text.index('"c"')
    assert "NaN" not in text and "Infinity" not in text


def test_manifest_metrics_keep_only_the_candidates_plain_values():
    """With a baseline, TFMA also stores the baseline's values and diffs under the same names."""
    overall = metrics_for_slice_pb2.MetricsForSlice()
    rows = [("auc", "candidate", True, 0.1), ("auc", "baseline", False, 0.7),
            ("auc", "candidate", False, 0.8)]
    for name, model, diff, value in rows:
        entry = overall.metric_keys_and_values.add()
        entry.key.name, entry.key.model_name, entry.key.is_diff = name, model, diff
        entry.value.double_value.value = value
    weighted = overall.metric_keys_and_values.add()
    weighted.key.name, weighted.key.model_name = "example_count", "candidate"
    weighted.key.example_weighted.value = True
    weighted.value.double_value.value = 99.0
    count = overall.metric_keys_and_values.add()
    count.key.name, count.key.model_name = "example_count", "candidate"
    count.key.example_weighted.value = False
    count.value.double_value.value = 40.0
    per_class = overall.metric_keys_and_values.add()
    per_class.key.name, per_class.key.model_name = "precision", "candidate"
    per_class.key.sub_key.class_id.value = 2
    per_class.value.double_value.value = 0.5
    cross = metrics_for_slice_pb2.MetricsForSlice()
    cross.cross_slice_key.baseline_slice_key.SetInParent()
    cross_auc = cross.metric_keys_and_values.add()
    cross_auc.key.name, cross_auc.key.model_name = "auc", "candidate"
    cross_auc.value.double_value.value = 0.3

    metrics = metrics_section(metrics_of_records([overall, cross], ["baseline"]))

    assert metrics == {"overall": {"auc": 0.8, "example_count": 40.0}, "slices": []}


def test_a_version_deleted_by_hand_does_not_give_its_number_to_the_next_push(tmp_path):
    first = _model(tmp_path, "model-a", 11)
    _push(tmp_path, first)
    second = _model(tmp_path, "model-b", 12, weight=3.0)
    _push(tmp_path, second, baseline=first)
    shutil.rmtree(_model_dir(tmp_path) / "2")  # a bad model taken out of serving by hand
    pushed = _push(tmp_path, _model(tmp_path, "model-c", 13, weight=4.0), baseline=first)
    assert pushed.get_string_custom_property("pushed_version") == "3"
    assert sorted(os.listdir(_model_dir(tmp_path))) == ["1", "3"]  # versions only
    assert (_model_dir(tmp_path).parent / f".{_model_dir(tmp_path).name}.last-version"
            ).read_text() == "3\n"
