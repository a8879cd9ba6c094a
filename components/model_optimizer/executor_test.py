"""ModelOptimizer executor on small real artifacts (tests/fixtures/tiny.py): Transform in Beam,
the real Trainer run_fn, then pruning and int8 conversion as the pipeline runs them."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.model_optimizer import device_client, tflite
from components.model_optimizer.preprocessing_spec import PREPROCESSING_FILE
from components.shared.artifacts import OptimizedModels, read_json
from components.shared.tflite_model import TFLiteModel
from pipeline.modules.trainer import serving_raw_spec
from tests.fixtures.tiny import OPTIMIZATION, raw_example, run_optimizer


@pytest.fixture(scope="module")
def result(tiny_optimized):
    made = read_json(tiny_optimized.optimized_models, OptimizedModels.FILE)
    return {"dense": made["dense"], **{v["name"]: v for v in made["variants"]}}


def _checkpoint_weights(saved_model_dir: str) -> dict[str, np.ndarray]:
    """Kernels and embedding tables as stored in a SavedModel's checkpoint (no optimizer)."""
    prefix = os.path.join(saved_model_dir, "variables", "variables")
    reader = tf.train.load_checkpoint(prefix)
    names = [n for n in reader.get_variable_to_shape_map()
             if n.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and "OPTIMIZER_SLOT" not in n
             and ("/kernel/" in n or "/embeddings/" in n)]
    return {name: reader.get_tensor(name) for name in names}


def _zero_fraction(weights: dict[str, np.ndarray]) -> float:
    return sum(int((w == 0).sum()) for w in weights.values()) / sum(
        w.size for w in weights.values())


def test_pruned_sparsity_is_measured_from_the_stored_weights(tiny_optimized, result):
    pruned = _checkpoint_weights(os.path.join(tiny_optimized.pruned_model, "Format-Serving"))
    dense = _checkpoint_weights(os.path.join(tiny_optimized.pipeline.model, "Format-Serving"))
    assert len(pruned) == len(dense) >= 5  # 3 Dense kernels, 2 deep + 2 wide... embeddings
    measured = _zero_fraction(pruned)
    assert measured == pytest.approx(result["pruned"]["sparsity"], abs=1e-9)
    # Every layer is pruned to the target (up to rounding of each tensor's size).
    for name, weights in pruned.items():
        assert abs((weights == 0).mean() - OPTIMIZATION.target_sparsity) < 0.5 / weights.size \
            + 1e-9, name
    assert _zero_fraction(dense) < 0.01
    assert result["dense"]["sparsity"] == pytest.approx(_zero_fraction(dense), abs=1e-9)
    # 80% zeros compress: the weights' gzip shrinks, their raw size does not.
    assert result["pruned"]["weights_bytes"] == result["dense"]["weights_bytes"]
    assert result["pruned"]["weights_gzip_bytes"] < 0.5 * result["dense"]["weights_gzip_bytes"]


def test_pruned_saved_model_scores_raw_examples_like_the_dense_one(tiny_optimized):
    tiny = tiny_optimized.pipeline
    dense = tf.saved_model.load(os.path.join(tiny.model, "Format-Serving"))
    pruned = tf.saved_model.load(os.path.join(tiny_optimized.pruned_model, "Format-Serving"))
    assert set(pruned.signatures) == set(dense.signatures) == {"serving_default",
                                                               "transform_features"}
    for name in dense.signatures:
        assert (pruned.signatures[name].structured_input_signature
                == dense.signatures[name].structured_input_signature)
        assert (pruned.signatures[name].structured_outputs.keys()
                == dense.signatures[name].structured_outputs.keys())
    examples = tf.constant([raw_example(r, drop=("tips",)) for r in tiny.eval_rows])
    a = dense.signatures["serving_default"](examples=examples)["outputs"].numpy().ravel()
    b = pruned.signatures["serving_default"](examples=examples)["outputs"].numpy().ravel()
    assert a.shape == b.shape == (len(tiny.eval_rows),)
    assert np.all((b > 0) & (b < 1)) and b.std() > 0.01
    assert np.corrcoef(a, b)[0, 1] > 0.8
    assert np.abs(a - b).mean() < 0.15


def test_int8_model_stores_int8_weights_and_computes_in_int8(tiny_optimized, result):
    path = os.path.join(tiny_optimized.optimized_models, "tflite_int8", tflite.MODEL_FILE)
    with open(path, "rb") as handle:
        content = handle.read()
    tensors = tflite.constant_tensors(content)
    kernels = [t for t in tensors if any(r in ("FULLY_CONNECTED:1", "GATHER:0")
                                         for r in t["read_by"])]
    biases = [t for t in tensors if "FULLY_CONNECTED:2" in t["read_by"]]
    assert len(kernels) >= 7 and len(biases) == 3  # 3 Dense kernels, 4 embedding tables
    assert {t["dtype"] for t in kernels} == {"int8"}
    assert {t["dtype"] for t in biases} == {"int32"}  # int8 x int8 accumulates in int32
    assert "float32" not in {t["dtype"] for t in tensors}
    # Activations too: every fully connected layer reads int8 tensors.
    interpreter = tf.lite.Interpreter(model_content=content)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    codes = [c.builtinCode for c in model.operatorCodes]
    fully_connected = [op for op in model.subgraphs[0].operators
                       if codes[op.opcodeIndex] == 9]  # BuiltinOperator.FULLY_CONNECTED
    assert len(fully_connected) == 3
    for op in fully_connected:
        assert details[int(op.inputs[0])]["dtype"] == np.int8
    assert result["tflite_int8"]["size_bytes"] == len(content)
    assert result["tflite_int8"]["gzip_bytes"] == len(gzip.compress(content, 9, mtime=0))
    assert result["tflite_int8"]["tensors"]["bytes_by_dtype"]["int8"] == sum(
        t["bytes"] for t in tensors if t["dtype"] == "int8")


def test_device_client_scores_raw_rows_like_the_dense_model(tiny_optimized):
    """Only the shipped .tflite and preprocessing.json: no Transform graph, no TensorFlow graph."""
    tiny = tiny_optimized.pipeline
    folder = os.path.join(tiny_optimized.optimized_models, "tflite_int8")
    client = device_client.DeviceModel(os.path.join(folder, tflite.MODEL_FILE),
                                       os.path.join(folder, PREPROCESSING_FILE))
    unseen = {"fare": 12.5, "miles": [], "company": [b"never-seen"], "hour": [1]}
    rows = [unseen] + [{k: v for k, v in r.items() if k != "tips"} for r in tiny.eval_rows[:40]]
    plain = [{k: (v[0] if v else None) if isinstance(v, list) else v for k, v in r.items()}
             for r in rows]

    # The client's features are the Transform graph's, to float32 rounding.
    output = tft.TFTransformOutput(tiny.transform_graph)
    spec = serving_raw_spec(tiny.config, output.raw_feature_spec(), with_label=False)
    graph = output.transform_features_layer()(
        tf.io.parse_example(tf.constant([raw_example(r) for r in rows]), spec))
    for i, row in enumerate(plain):
        for name, value in device_client.transform_row(client.spec, row).items():
            np.testing.assert_allclose(value.ravel(), graph[name].numpy()[i].ravel(),
                                       rtol=1e-5, atol=1e-6, err_msg=f"row {i} {name}")
    company = next(e for e in client.spec["inputs"] if e["name"] == "company_xf")
    assert len(company["vocabulary"]) <= graph["company_xf"].numpy()[0, 0]  # OOV bucket

    dense = tf.saved_model.load(os.path.join(tiny.model, "Format-Serving"))
    served = dense.signatures["serving_default"](
        examples=tf.constant([raw_example(r) for r in rows]))["outputs"].numpy().ravel()
    scores = np.array([client.score(row)[0] for row in plain])
    # int8 weights and activations: each score within 0.05 of the dense model's, and on
    # average within 0.01.
    np.testing.assert_allclose(scores, served, atol=0.05)
    assert np.abs(scores - served).mean() < 0.01


def test_optimization_json_records_sizes_as_measured(tiny_optimized, result):
    path = os.path.join(tiny_optimized.optimized_models, "tflite_int8")
    assert sorted(os.listdir(path)) == sorted(result["tflite_int8"]["files"]) == [
        "model.tflite", "preprocessing.json", "schema.pbtxt"]
    serving = os.path.join(tiny_optimized.pruned_model, "Format-Serving")
    on_disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(serving)
                  for f in fs)
    assert result["pruned"]["size_bytes"] == on_disk
    assert 0 < result["pruned"]["gzip_bytes"] < on_disk
    assert result["pruned"]["finetune"]["steps"] == OPTIMIZATION.finetune_steps
    with open(os.path.join(path, PREPROCESSING_FILE)) as handle:
        shipped = json.load(handle)
    # One entry per input of the .tflite model, each with the constants its rule needs.
    lite = TFLiteModel(open(os.path.join(path, tflite.MODEL_FILE), "rb").read())
    assert {e["name"] for e in shipped["inputs"]} == set(lite.inputs)
    kinds = {e["name"]: e["kind"] for e in shipped["inputs"]}
    assert kinds == {"fare_xf": "numeric", "miles_xf": "numeric", "miles_bucket_xf": "bucket",
                     "company_xf": "categorical", "hour_xf": "categorical"}
    bucket = next(e for e in shipped["inputs"] if e["kind"] == "bucket")
    assert len(bucket["boundaries"]) == 2 and bucket["boundaries"] == sorted(bucket["boundaries"])
    fare = next(e for e in shipped["inputs"] if e["name"] == "fare_xf")
    fares = np.array([r["fare"] for r in tiny_optimized.pipeline.rows], dtype=np.float32)
    assert fare["mean"] == pytest.approx(fares.mean(), rel=1e-5)
    assert fare["std"] == pytest.approx(fares.std(), rel=1e-4)


def test_pruning_twice_gives_the_same_weights_bit_for_bit(tiny_pipeline, tmp_path):
    """Balanced class weights read the shuffled data before the fine-tuning does; each reader
    has a dataset of its own, so the fine-tuning sees the same order every time."""
    settings = dataclasses.replace(OPTIMIZATION, variants=("pruned",), class_weight="balanced",
                                   finetune_steps=20, pruning_end_step=10, pruning_frequency=5)
    first, *others = (_checkpoint_weights(os.path.join(
        run_optimizer(tiny_pipeline, str(tmp_path / str(i)), settings).pruned_model,
        "Format-Serving")) for i in range(3))
    assert first and all(w.any() for w in first.values())
    for other in others:
        assert sorted(other) == sorted(first)
        assert all(np.array_equal(first[name], other[name]) for name in first)
