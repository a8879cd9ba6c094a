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

import numpy as np
import pytest
import tensorflow as tf

from pipeline.modules.features import LABEL_KEY
from pipeline.modules.model import OUTPUT_LAYER, LabelInfo, build_model
from tests.fixtures.tiny import BASE_CONFIG, raw_example

CONFIG = BASE_CONFIG
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


def test_a_regression_label_in_the_millions_is_learned_as_well_as_one_near_one():
    """The network learns the label in standard deviations; a fixed layer puts it back in the
    label's units. Before, the output started at the mean but every weight had to grow to the
    label's scale at Adam's pace: a label in the millions was not learned at all."""
    batch = _batch(256)
    signal = batch["fare_xf"][:, 0] + 0.5 * batch["miles_xf"][:, 0]
    errors = {}
    for mean, scale in ((0.0, 1.0), (3e6, 1e6)):
        label = (mean + scale * signal).astype(np.float32)
        info = LabelInfo("regression", 1, mean=float(label.mean()), scale=float(label.std()))
        tf.keras.utils.set_random_seed(0)  # the same dropout masks for both scales
        model = build_model(_config("dnn", learning_rate=0.01), CARDINALITIES, info)
        model.fit(batch, label, epochs=60, batch_size=64, shuffle=False, verbose=0)
        rmse = float(np.sqrt(np.mean((model.predict(batch, verbose=0)[:, 0] - label) ** 2)))
        errors[scale] = rmse / float(label.std())  # in the label's standard deviations
    assert errors[1e6] < 0.35 and errors[1.0] < 0.35, errors
    assert errors[1e6] == pytest.approx(errors[1.0], abs=0.05), errors


def test_pruning_leaves_a_regression_outputs_scale_alone_and_tflite_converts_it():
    from components.model_optimizer.pruning import Schedule, prune, sparsity

    info = LabelInfo("regression", 1, mean=3e6, scale=1e6)
    model = build_model(_config("dnn"), CARDINALITIES, info)
    batch = _batch(64)
    label = np.full((64, 1), 3e6, dtype=np.float32)
    train = tf.data.Dataset.from_tensors((batch, label)).repeat()
    pruned, _ = prune(model, train, Schedule(0.5, 0, 4, 1, 6), "regression", 1e-3, None)
    output = pruned.get_layer(OUTPUT_LAYER)
    assert (float(output.kernel.numpy()), float(output.bias.numpy())) == (1e6, 3e6)
    assert sparsity(pruned)["prunable"] == pytest.approx(0.5, abs=0.05)
    converter = tf.lite.TFLiteConverter.from_keras_model(pruned)
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    one = {name: value[:1] for name, value in batch.items()}
    for detail in interpreter.get_input_details():
        name = next(n for n in one if detail["name"].endswith(f"_{n}:0"))
        interpreter.set_tensor(detail["index"], one[name].astype(detail["dtype"]))
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, pruned.predict(one, verbose=0), rtol=1e-5)


def test_autograph_does_not_rewrite_tf_keras_but_still_converts_user_code():
    from tensorflow.python.autograph.impl import conversion
    from tf_keras.src.engine import training

    def user_code(x):  # not allowlisted: a user's function is still converted
        return x

    assert conversion.is_allowlisted(training.Model.train_step)
    assert not conversion.is_allowlisted(user_code)


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.fixtures.tiny import build, tiny_rows

    rows = tiny_rows()
    tiny = build(str(tmp_path_factory.mktemp("trainer")), CONFIG, rows, rows[:32])
    return {"model_dir": tiny.model, "rows": rows, "train": tiny.train, "tiny": tiny}


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
    without_label = serve(examples=tf.constant([raw_example(r, drop=("tips",)) for r in rows]))
    scores = without_label["outputs"].numpy()
    assert list(without_label) == ["outputs"] and scores.shape == (10, 1)
    assert np.all((scores >= 0) & (scores <= 1))
    # A label sent along by mistake is ignored.
    with_label = serve(examples=tf.constant([raw_example(r) for r in rows]))["outputs"]
    np.testing.assert_allclose(with_label.numpy(), scores, rtol=1e-6)

    transformed = loaded.signatures["transform_features"](
        examples=tf.constant([raw_example(r) for r in rows]))
    np.testing.assert_array_equal(transformed[LABEL_KEY].numpy().ravel(),
                                  [row[LABEL_KEY][0] for row in trained["train"][:10]])

    # The saved inner Keras model is the trained one: same scores on the transformed features.
    keras_model = tf.keras.models.load_model(os.path.join(model_dir, "keras_model"))
    inputs = {name: transformed[name] for name in keras_model.input_names}
    np.testing.assert_allclose(keras_model.predict(inputs, verbose=0), scores, rtol=1e-5)


def test_exported_models_carry_no_optimizer_state(trained):
    for folder in ("Format-Serving", "keras_model"):
        checkpoint = os.path.join(trained["model_dir"], folder, "variables", "variables")
        names = [name for name, _ in tf.train.list_variables(checkpoint)]
        assert any("embedding" in name for name in names), folder
        assert not any("optimizer" in name.lower() for name in names), (folder, names)


def test_the_same_rows_config_and_seed_train_the_same_weights_bit_for_bit(trained, tmp_path):
    """Transform (Beam) and the Trainer again from nothing, and the Trainer twice more in this
    process on the first Transform's output: every model has the same weights. (Before each
    reader of the shuffled data had a dataset of its own, about half of such trainings differed,
    so three comparisons catch that with a probability of about 7/8.)"""
    from tests.fixtures.tiny import build, train_model

    again = build(str(tmp_path / "again"), CONFIG, trained["rows"], trained["rows"][:32])
    models = [trained["model_dir"], again.model]
    for i in range(2):
        models.append(str(tmp_path / f"model_{i}"))
        train_model(trained["tiny"], models[-1])
    first, *others = ([w.numpy() for w in tf.keras.models.load_model(
        os.path.join(path, "keras_model"), compile=False).weights] for path in models)
    assert len(first) > 0
    for other in others:
        assert len(other) == len(first)
        assert all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_a_loss_that_is_no_longer_a_number_fails_the_training_in_one_sentence():
    """Values too large for float32 trained to NaN weights, which the Trainer exported; the
    Evaluator and the baselines then failed without saying why."""
    import tensorflow as tf

    from pipeline.modules.trainer import FailOnNaN

    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = tf.constant([[3e38], [-3e38]], tf.float32)
    with pytest.raises(ValueError, match=r"the training loss is (nan|inf) after epoch 1: .*"
                                         r"too large for float32"):
        model.fit(x, x, epochs=3, callbacks=[FailOnNaN()], verbose=0)
    FailOnNaN().on_epoch_end(0, {"loss": 0.25})  # a number: nothing to say
