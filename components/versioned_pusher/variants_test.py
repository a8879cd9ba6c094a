"""VersionedPusher with the optimization stage's `variants` input, on small real artifacts: the
tiny pipeline's dense model and the VariantEvaluator's verdict on its real int8 TFLite model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.model_optimizer.device_client import DeviceModel
from components.shared.artifacts import ModelVariants
from components.shared.params import encode
from components.versioned_pusher import PushDestination
from components.versioned_pusher.executor import Executor
from tests.fixtures.tiny import artifact, raw_example, run_variant_evaluator

MODEL_NAME = "tiny"


@pytest.fixture(scope="module")
def verdicts(tiny_optimized, tmp_path_factory):
    """uris of two real VariantEvaluator outputs: int8 blessed, and int8 not blessed."""
    root = tmp_path_factory.mktemp("verdicts")
    return {"blessed": run_variant_evaluator(tiny_optimized, str(root / "ok"), tolerance=0.05),
            "rejected": run_variant_evaluator(tiny_optimized, str(root / "tight"),
                                              tolerance=-1.0)}  # impossibly tight


def _push(tmp_path, tiny, variants_uri: str | None, blessed: int = 1, model_id: int = 11):
    blessing = artifact(standard_artifacts.ModelBlessing, str(tmp_path / f"blessing{blessed}"))
    blessing.set_int_custom_property("blessed", blessed)
    pushed = artifact(standard_artifacts.PushedModel, str(tmp_path / f"pushed-{model_id}"))
    inputs = {"model": [artifact(standard_artifacts.Model, tiny.model, model_id)],
              "model_blessing": [blessing]}
    if variants_uri:
        inputs["variants"] = [artifact(ModelVariants, variants_uri, 31)]
    Executor().Do(inputs, {"pushed_model": [pushed]}, {"destination": encode(
        PushDestination(str(tmp_path / "serving"), MODEL_NAME))})
    return pushed


def _manifest(tmp_path, version: int) -> dict:
    return json.loads((tmp_path / "serving" / MODEL_NAME / str(version) / "manifest.json")
                      .read_text())


def test_blessed_variant_is_pushed_inside_the_dense_models_version(tmp_path, tiny_optimized,
                                                                   verdicts):
    tiny = tiny_optimized.pipeline
    pushed = _push(tmp_path, tiny, verdicts["blessed"])

    model_dir = tmp_path / "serving" / MODEL_NAME
    assert sorted(os.listdir(model_dir)) == ["1"]  # no temp dir left, nothing else
    folder = model_dir / "1" / "variants" / "tflite_int8"
    assert sorted(os.listdir(model_dir / "1" / "variants")) == ["tflite_int8"]
    assert sorted(os.listdir(folder)) == ["model.tflite", "preprocessing.json", "schema.pbtxt"]
    manifest = _manifest(tmp_path, 1)
    [entry] = manifest["variants"]
    assert entry["path"] == "variants/tflite_int8" and entry["blessed"] is True
    assert entry["format"] == "tflite" and entry["sparsity"] is None
    assert entry["size_bytes"] == os.path.getsize(folder / "model.tflite")
    assert 0 < entry["gzip_bytes"] < entry["size_bytes"]
    assert entry["latency_ms"]["p50"] > 0 and entry["deltas"]
    assert "preprocessing.json" in entry["inputs"]
    assert manifest["optimization"]["dense"]["latency_ms"]["calls"] == 20
    assert manifest["optimization"]["variants_artifact"]["uri"] == verdicts["blessed"]
    assert pushed.get_int_custom_property("pushed") == 1

    # A device client with only the pushed folder scores raw rows like the pushed dense model.
    client = DeviceModel(str(folder / "model.tflite"), str(folder / "preprocessing.json"))
    served = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]
    rows = tiny.eval_rows[:20]
    dense = served(examples=tf.constant([raw_example(r, drop=("tips",)) for r in rows]))
    plain = [{k: (v[0] if v else None) if isinstance(v, list) else v for k, v in r.items()}
             for r in rows]
    # int8 weights and activations: each score within 0.05 of the dense one, 0.01 on average
    # (the same bound as the optimizer's own test of the device client).
    scores = np.array([client.score(r)[0] for r in plain])
    np.testing.assert_allclose(scores, dense["outputs"].numpy().ravel(), atol=0.05)
    assert np.abs(scores - dense["outputs"].numpy().ravel()).mean() < 0.01


def test_variant_not_blessed_is_listed_with_its_reason_but_not_pushed(tmp_path, tiny_optimized,
                                                                     verdicts):
    _push(tmp_path, tiny_optimized.pipeline, verdicts["rejected"])
    version = tmp_path / "serving" / MODEL_NAME / "1"
    assert (version / "saved_model.pb").is_file() and not (version / "variants").exists()
    [entry] = _manifest(tmp_path, 1)["variants"]
    assert entry["blessed"] is False and entry["path"] is None
    assert entry["not_pushed"].startswith("not blessed: auc ")
    assert "exceeds the tolerance -1" in entry["reason"]


def test_no_variant_is_pushed_without_a_blessed_dense_model(tmp_path, tiny_optimized, verdicts):
    pushed = _push(tmp_path, tiny_optimized.pipeline, verdicts["blessed"], blessed=0)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not (tmp_path / "serving").exists()


def test_new_variants_of_the_served_model_take_a_new_version(tmp_path, tiny_optimized, verdicts):
    tiny = tiny_optimized.pipeline
    _push(tmp_path, tiny, verdicts["blessed"])
    again = _push(tmp_path, tiny, verdicts["blessed"])
    assert again.get_int_custom_property("already_served") == 1
    assert sorted(os.listdir(tmp_path / "serving" / MODEL_NAME)) == ["1"]

    other = _push(tmp_path, tiny, verdicts["rejected"])
    assert other.get_int_custom_property("already_served") == 0
    assert other.get_string_custom_property("pushed_version") == "2"
    assert _manifest(tmp_path, 2)["optimization"]["variants_artifact"]["uri"] == verdicts[
        "rejected"]
    assert not (tmp_path / "serving" / MODEL_NAME / "2" / "variants").exists()
