"""The Keras model builder, and run_fn on a tiny transformed dataset.

The model tests check what later stages depend on: output shapes and activations per task, the
regularisation and initial bias asked for by the config, and that TFMOT can prune the model and
TFLite can convert it (which rules out layers such as CategoryEncoding).
"""

from __future__ import annotations

import copy
import json
import math
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipeline.modules.features import LABEL_KEY  # noqa: E402
from pipeline.modules.model import OUTPUT_LAYER, LabelInfo, build_model  # noqa: E402

CONFIG = {
    "label": {"column": "tips", "kind": "binary", "positive_values": None,
              "derive": {"type": "ratio_above", "denominator": "fare", "threshold": 0.2}},
    "features": {"numeric": ["fare", "miles"], "categorical": ["company", "hour"],
                 "bucketize": {"miles": 3}},
    "transform": {"impute": "mean", "vocab_size": 100, "oov_buckets": 2},
    "model": {"type": "wide_deep", "hidden_units": [8, 4], "dropout": 0.2, "l2": 1e-3,
              "embedding_dim": 3, "learning_rate": 0.01, "batch_size": 16, "train_steps": 4,
              "steps_per_epoch": 2, "eval_steps": 2, "early_stopping_patience": 3, "seed": 7,
              "class_weight": "balanced"},
    "code_fingerprint": "test",
}
CARDINALITIES = {"miles_bucket_xf": 3, "company_xf": 6, "hour_xf": 5}
TASKS = {
    "binary": (LabelInfo("binary", 2, priors=(0.8, 0.2)), 1, "sigmoid"),
    "multiclass": (LabelInfo("multiclass", 3, priors=(0.5, 0.3, 0.2)), 3, "softmax"),
    "regression": (LabelInfo("regression", 1, mean=2.5), 1, "linear"),
}


def _config(model_type: str = "wide_deep", **model: object) -> dict:
    config = copy.deepcopy(CONFIG)
    config["model"].update(type=model_type, **model)
    return config


def _batch(n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "fare_xf": rng.normal(size=(n, 1)).astype(np.float32),
        "miles_xf": rng.normal(size=(n, 1)).astype(np.float32),
        "miles_bucket_xf": rng.integers(0, 3, size=(n, 1)),
        "company_xf": rng.integers(0, 6, size=(n, 1)),
        "hour_xf": rng.integers(0, 5, size=(n, 1)),
    }


@pytest.mark.parametrize("model_type", ["dnn", "wide_deep"])
@pytest.mark.parametrize("kind", list(TASKS))
def test_output_shape_activation_and_predictions(kind, model_type):
    label_info, units, activation = TASKS[kind]
    model = build_model(_config(model_type), CARDINALITIES, label_info)
    assert model.output_shape == (None, units)
    assert sorted(model.input_names) == sorted(_batch())
    assert all(model.get_layer(name).dtype in ("float32", "int64") for name in _batch())
    output = model.get_layer(OUTPUT_LAYER)
    assert output.activation.__name__ == activation
    predictions = model.predict(_batch(), verbose=0)
    assert predictions.shape == (5, units)
    if kind == "multiclass":
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    if kind == "binary":
        assert np.all((predictions > 0) & (predictions < 1))
    assert model.loss.__class__.__name__ == {
        "binary": "BinaryCrossentropy", "multiclass": "SparseCategoricalCrossentropy",
        "regression": "MeanSquaredError"}[kind]


@pytest.mark.parametrize("kind, expected", [
    ("binary", [math.log(0.2 / 0.8)]),
    ("multiclass", [math.log(0.5), math.log(0.3), math.log(0.2)]),
    ("regression", [2.5]),
])
def test_output_bias_starts_at_the_label_prior(kind, expected):
    model = build_model(_config(), CARDINALITIES, TASKS[kind][0])
    bias = model.get_layer(OUTPUT_LAYER).bias.numpy()
    np.testing.assert_allclose(bias, expected, rtol=1e-6)


def test_an_absent_class_gives_a_finite_bias():
    bias = LabelInfo("binary", 2, priors=(1.0, 0.0)).initial_bias()
    assert all(math.isfinite(b) for b in bias) and bias[0] < -10


@pytest.mark.parametrize("model_type", ["dnn", "wide_deep"])
def test_dropout_and_l2_follow_the_config(model_type):
    model = build_model(_config(model_type), CARDINALITIES, TASKS["binary"][0])
    dropouts = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dropout)]
    assert len(dropouts) == 2 and all(layer.rate == 0.2 for layer in dropouts)
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert len(dense) == 3
    for layer in dense:
        assert layer.kernel_regularizer is not None
        assert float(layer.kernel_regularizer.l2) == pytest.approx(1e-3)
    assert len(model.losses) > 0

    plain = build_model(_config(model_type, dropout=0.0, l2=0.0), CARDINALITIES,
                        TASKS["binary"][0])
    assert not any(isinstance(layer, tf.keras.layers.Dropout) for layer in plain.layers)
    assert all(layer.kernel_regularizer is None for layer in plain.layers
               if isinstance(layer, tf.keras.layers.Dense))


def test_wide_deep_adds_a_linear_path_on_ids_and_numerics():
    dnn = build_model(_config("dnn"), CARDINALITIES, TASKS["multiclass"][0])
    wide = build_model(_config("wide_deep"), CARDINALITIES, TASKS["multiclass"][0])
    # Per id feature, one embedding row per id and per output unit (3 classes).
    extra = sum(CARDINALITIES.values()) * 3
    # The output layer also sees the 2 numerics and the 3 wide vectors (3 units each).
    extra += (2 + 3 * 3) * 3
    assert wide.count_params() - dnn.count_params() == extra
    assert wide.get_layer("company_xf_wide").input_dim == CARDINALITIES["company_xf"]


def test_embedding_sizes_follow_the_cardinalities():
    model = build_model(_config("dnn"), CARDINALITIES, TASKS["binary"][0])
    for name, size in CARDINALITIES.items():
        layer = model.get_layer(f"{name}_embedding")
        assert (layer.input_dim, layer.output_dim) == (size, 3)


@pytest.mark.parametrize("model_type", ["dnn", "wide_deep"])
def test_no_category_encoding_and_tfmot_can_prune_it(model_type):
    tfmot = pytest.importorskip("tensorflow_model_optimization")
    model = build_model(_config(model_type), CARDINALITIES, TASKS["binary"][0])
    names = {layer.__class__.__name__ for layer in model.layers}
    assert "CategoryEncoding" not in names
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model)
    wrapped = [layer for layer in pruned.layers if type(layer).__name__ == "PruneLowMagnitude"]
    assert {type(layer.layer).__name__ for layer in wrapped} >= {"Dense", "Embedding"}


def test_tflite_converts_it_without_flex_ops():
    model = build_model(_config(), CARDINALITIES, TASKS["binary"][0])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    batch = {name: value[:1] for name, value in _batch().items()}
    for detail in interpreter.get_input_details():
        name = next(n for n in batch if detail["name"].endswith(f"_{n}:0"))
        interpreter.set_tensor(detail["index"], batch[name].astype(detail["dtype"]))
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, model.predict(batch, verbose=0), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# run_fn on a tiny dataset: Transform in Beam, transformed TFRecords, then the real run_fn


def _tiny_rows(n: int = 64) -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        fare = float(rng.uniform(2, 40))
        big = rng.random() < 0.25 + 0.5 * (i % 2)
        rows.append({
            "fare": fare,
            "miles": [] if i % 7 == 0 else [float(rng.uniform(0, 10))],
            "company": [] if i % 5 == 0 else [[b"a", b"b", b"c"][i % 3]],
            "hour": [int(i % 2)],
            "tips": [fare * (0.3 if big else 0.1)],
        })
    return rows


def _write_examples(rows: list[dict], path: str) -> None:
    with tf.io.TFRecordWriter(path) as writer:
        for row in rows:
            feature = {}
            for key, value in row.items():
                if value.dtype.kind == "f":
                    feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
                else:
                    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def _raw_example(row: dict, drop: tuple[str, ...] = ()) -> bytes:
    feature = {}
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        if key in drop or not values:
            continue
        if isinstance(values[0], bytes):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif isinstance(values[0], float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
    from tfx_bsl.public import tfxio

    from pipeline.modules.trainer import run_fn
    from tests.test_transform import SPEC, _run

    tmp = str(tmp_path_factory.mktemp("trainer"))
    rows = _tiny_rows()
    train, evaluated, _ = _run(CONFIG, SPEC, rows, tmp, eval_rows=rows[:32])
    _write_examples(train, os.path.join(tmp, "train.tfrecord"))
    _write_examples(evaluated, os.path.join(tmp, "eval.tfrecord"))

    def factory(files, options, schema):
        return tfxio.TFExampleRecord(file_pattern=files, schema=schema).TensorFlowDataset(options)

    fn_args = FnArgs(
        train_files=[os.path.join(tmp, "train.tfrecord")],
        eval_files=[os.path.join(tmp, "eval.tfrecord")],
        train_steps=4, eval_steps=2, transform_output=os.path.join(tmp, "transform_fn"),
        serving_model_dir=os.path.join(tmp, "model", "Format-Serving"),
        data_accessor=DataAccessor(factory, None, None), custom_config=CONFIG)
    run_fn(fn_args)
    return {"model_dir": os.path.join(tmp, "model"), "rows": rows, "train": train}


def test_run_fn_writes_the_summary_keras_model_and_logs(trained):
    model_dir = trained["model_dir"]
    with open(os.path.join(model_dir, "training_summary.json")) as handle:
        summary = json.load(handle)
    assert summary["epochs_run"] == 2 and 1 <= summary["best_epoch"] <= 2
    assert len(summary["history"]["val_loss"]) == 2 and "auc" in summary["history"]
    assert summary["best_val_loss"] == min(summary["history"]["val_loss"])
    labels = np.array([row[LABEL_KEY][0] for row in trained["train"]])
    positives = labels.mean()
    np.testing.assert_allclose(summary["label_priors"], [1 - positives, positives], rtol=1e-6)
    np.testing.assert_allclose(
        [summary["class_weights"]["0"], summary["class_weights"]["1"]],
        [0.5 / (1 - positives), 0.5 / positives], rtol=1e-6)
    assert summary["model_config"] == CONFIG["model"]
    assert summary["num_parameters"] > 0
    assert os.listdir(os.path.join(model_dir, "logs"))
    assert os.path.isfile(os.path.join(model_dir, "keras_model", "saved_model.pb"))


def test_exported_signatures_score_raw_examples_and_give_the_label(trained):
    model_dir = trained["model_dir"]
    rows = trained["rows"][:10]
    loaded = tf.saved_model.load(os.path.join(model_dir, "Format-Serving"))
    serve = loaded.signatures["serving_default"]
    without_label = serve(examples=tf.constant([_raw_example(r, drop=("tips",)) for r in rows]))
    scores = without_label["outputs"].numpy()
    assert list(without_label) == ["outputs"] and scores.shape == (10, 1)
    assert np.all((scores >= 0) & (scores <= 1))
    # A label sent along by mistake is ignored.
    with_label = serve(examples=tf.constant([_raw_example(r) for r in rows]))["outputs"]
    np.testing.assert_allclose(with_label.numpy(), scores, rtol=1e-6)

    transformed = loaded.signatures["transform_features"](
        examples=tf.constant([_raw_example(r) for r in rows]))
    np.testing.assert_array_equal(transformed[LABEL_KEY].numpy().ravel(),
                                  [row[LABEL_KEY][0] for row in trained["train"][:10]])

    # The saved inner Keras model is the trained one: same scores on the transformed features.
    keras_model = tf.keras.models.load_model(os.path.join(model_dir, "keras_model"))
    inputs = {name: transformed[name] for name in keras_model.input_names}
    np.testing.assert_allclose(keras_model.predict(inputs, verbose=0), scores, rtol=1e-5)
