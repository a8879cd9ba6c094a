"""TFX Trainer module: `run_fn` trains the Keras model on transformed examples and exports it.

The model artifact (the folder above `serving_model_dir`) holds what the components that read a
trained model expect (components/shared/model_contract.py):
- `Format-Serving/`: the SavedModel that Evaluator and Pusher use, with two signatures:
  `serving_default` (raw tf.Example without the label -> {"outputs": prediction}) and
  `transform_features` (raw tf.Example with the label -> every transformed feature, including
  `label_xf`, which is how TFMA gets a label that is derived inside the pipeline);
- `keras_model/`: the inner Keras model on transformed features, for TFLite conversion/pruning;
- `logs/`: TensorBoard logs;
- `training_summary.json`: epochs, best epoch, history, label priors, class weights, size, the
  settings the model was built with and which of them came from the Tuner.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from components.shared.model_contract import (
    KERAS_MODEL_DIR,
    LABEL_KEY,
    OUTPUT_KEY,
    OUTPUTS,
    SAVE_OPTIONS,
    SERVING_SIGNATURE,
    SIGNATURE_INPUT,
    TRAINING_SUMMARY,
    TRANSFORM_SIGNATURE,
    TUNED,
)
from pipeline.modules import labels, space
from pipeline.modules.features import (
    LABEL_VOCABULARY,
    MISSING_CATEGORY,
    bucket_name,
    cardinalities,
    transformed_features,
)
from pipeline.modules.model import LabelInfo, build_model

LOGS_DIR = "logs"
# Enough batches for stable label frequencies without a pass over a large training set.
PRIOR_BATCHES = 100


def run_fn(fn_args: Any) -> None:
    """Entry point called by the TFX Trainer (`fn_args` is a tfx FnArgs).

    With the Tuner's best hyperparameters (`fn_args.hyperparameters`), their values replace
    [model]'s; the training summary records which (`tuned`).
    """
    tuned = space.tuned_values(fn_args.hyperparameters)
    config = {**fn_args.custom_config,
              "model": space.apply(fn_args.custom_config["model"], tuned)}
    settings = config["model"]
    tf.keras.utils.set_random_seed(int(settings["seed"]))
    # The same rows, config and seed train the same weights (TensorFlow's own switch for it;
    # without it, a full test suite's run once trained other weights than a rerun did).
    tf.config.experimental.enable_op_determinism()
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    # Each reader of the shuffled training data gets a dataset of its own: iterators of one
    # dataset share its shuffle seeds, and a reader's read-ahead would advance them by however
    # far it got, so the order the model sees would depend on timing.
    label_info, class_weight = measure_label(
        dataset(fn_args, fn_args.train_files, tf_transform_output, settings, shuffle=True),
        config, tf_transform_output)
    train = dataset(fn_args, fn_args.train_files, tf_transform_output, settings, shuffle=True)
    # The same eval batches every epoch, so val_loss (early stopping) compares like with like.
    eval_steps = max(1, int(settings.get("eval_steps") or fn_args.eval_steps or 1))
    evaluation = dataset(fn_args, fn_args.eval_files, tf_transform_output, settings,
                          shuffle=False).take(eval_steps).cache().repeat()

    model = build_keras_model_from_transform_output(config, tf_transform_output, label_info)
    model_root = os.path.dirname(fn_args.serving_model_dir)
    history, stopper = _fit(model, train, evaluation, settings, eval_steps, class_weight,
                            os.path.join(model_root, LOGS_DIR))

    # Without the optimizer's slots: Adam's two moments per weight would triple the files (a
    # fine-tuning stage compiles its own optimizer). Without traces (see SAVE_OPTIONS).
    model.save(os.path.join(model_root, KERAS_MODEL_DIR), **SAVE_OPTIONS)
    export_serving_model(model, tf_transform_output, config, fn_args.serving_model_dir)
    summary = training_summary(history, stopper, label_info, class_weight, model, settings)
    summary[OUTPUTS] = model_outputs(config, tf_transform_output)
    summary[TUNED] = tuned or None
    with tf.io.gfile.GFile(os.path.join(model_root, TRAINING_SUMMARY), "w") as handle:
        handle.write(json.dumps(summary, indent=2, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# Model


def model_outputs(custom_config: dict[str, Any], tf_transform_output: tft.TFTransformOutput
                  ) -> dict[str, Any]:
    """What the model's output means: the label's kind and its classes in output order."""
    label = custom_config["label"]
    kind = label["kind"]
    if kind == "multiclass":
        classes = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c)
                   for c in tf_transform_output.vocabulary_by_name(LABEL_VOCABULARY)]
        return {"kind": kind, "classes": classes}
    if kind == "binary":
        return {"kind": kind, "classes": ["0", "1"], "positive": labels.rule_text(label)}
    return {"kind": kind, "classes": None}


def num_classes(custom_config: dict[str, Any], tf_transform_output: tft.TFTransformOutput) -> int:
    if custom_config["label"]["kind"] == "multiclass":
        return tf_transform_output.vocabulary_size_by_name(LABEL_VOCABULARY)
    return 2 if custom_config["label"]["kind"] == "binary" else 1


def build_keras_model_from_transform_output(
        custom_config: dict[str, Any], tf_transform_output: tft.TFTransformOutput,
        label_info: LabelInfo | None = None) -> tf.keras.Model:
    """The trained architecture, rebuilt from a Transform output (e.g. to load weights into).

    Without `label_info` the output bias starts from uniform priors; weights loaded afterwards
    overwrite it anyway.
    """
    if label_info is None:
        label_info = LabelInfo(custom_config["label"]["kind"],
                               num_classes(custom_config, tf_transform_output))
    sizes = cardinalities(custom_config, tf_transform_output.vocabulary_size_by_name)
    return build_model(custom_config, sizes, label_info)


# ---------------------------------------------------------------------------------------------
# Data and label statistics


def dataset(fn_args: Any, files: list[str], tf_transform_output: tft.TFTransformOutput,
            settings: dict[str, Any], shuffle: bool, epochs: int | None = None
            ) -> tf.data.Dataset:
    """(features, label_xf) batches of transformed examples: endless, or `epochs` passes."""
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=int(settings["batch_size"]), label_key=LABEL_KEY, shuffle=shuffle,
        shuffle_seed=int(settings["seed"]), num_epochs=epochs)
    return fn_args.data_accessor.tf_dataset_factory(
        files, options, tf_transform_output.transformed_metadata.schema)


def measure_label(dataset: tf.data.Dataset, custom_config: dict[str, Any],
                  tf_transform_output: tft.TFTransformOutput,
                  max_batches: int = PRIOR_BATCHES) -> tuple[LabelInfo, dict[int, float] | None]:
    """Label priors (or mean) from the first batches, and balanced class weights if asked."""
    kind = custom_config["label"]["kind"]
    batches = [y.numpy().ravel() for y in dataset.map(lambda _, y: y).take(max_batches)]
    if not batches:
        raise ValueError("the training split has no examples")
    labels = np.concatenate(batches)
    if kind == "regression":
        spread = float(labels.std())
        return LabelInfo(kind, 1, mean=float(labels.mean()),
                         scale=spread if spread > 0 and np.isfinite(spread) else 1.0), None
    classes = num_classes(custom_config, tf_transform_output)
    counts = np.bincount(labels[(labels >= 0) & (labels < classes)].astype(np.int64),
                         minlength=classes)
    priors = tuple(float(c) / max(int(counts.sum()), 1) for c in counts)
    class_weight = None
    if custom_config["model"].get("class_weight", "none") == "balanced":
        class_weight = balanced_class_weights(counts)
    return LabelInfo(kind, classes, priors=priors), class_weight


def balanced_class_weights(counts: np.ndarray) -> dict[int, float]:
    """n / (classes * count): every class weighs as much in the loss; absent classes get 1."""
    total, classes = float(counts.sum()), len(counts)
    return {i: (total / (classes * float(c)) if c > 0 else 1.0) for i, c in enumerate(counts)}


# ---------------------------------------------------------------------------------------------
# Training


def _fit(model: tf.keras.Model, train: tf.data.Dataset, evaluation: tf.data.Dataset,
         settings: dict[str, Any], eval_steps: int, class_weight: dict[int, float] | None,
         log_dir: str) -> tuple[tf.keras.callbacks.History, tf.keras.callbacks.EarlyStopping]:
    steps_per_epoch = max(1, int(settings["steps_per_epoch"]))
    epochs = max(1, int(settings["train_steps"]) // steps_per_epoch)
    # restore_best_weights: the exported model is the best epoch's, not the last one's.
    stopper = tf.keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=int(settings["early_stopping_patience"]),
        restore_best_weights=True)
    board = tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", profile_batch=0)
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=evaluation, validation_steps=eval_steps,
                        class_weight=class_weight, callbacks=[stopper, board, FailOnNaN()],
                        verbose=2)
    return history, stopper


class FailOnNaN(tf.keras.callbacks.Callback):
    """Fails the Trainer when its loss is no longer a number: a model of NaN weights would be
    exported, and fail later in the Evaluator and the baselines without saying why."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise ValueError(
                f"the training loss is {loss} after epoch {epoch + 1}: a feature or the label "
                "holds values too large for float32, or [model] learning_rate is too high; "
                "check the data's ranges in the run's statistics, or lower the learning rate")


def training_summary(history: tf.keras.callbacks.History,
                     stopper: tf.keras.callbacks.EarlyStopping, label_info: LabelInfo,
                     class_weight: dict[int, float] | None, model: tf.keras.Model,
                     settings: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer needs to judge the training run, JSON-ready."""
    metrics = {name: [float(v) for v in values] for name, values in history.history.items()}
    val_loss = metrics.get("val_loss", [])
    best = int(np.argmin(val_loss)) if val_loss else len(history.epoch) - 1
    return {
        "epochs_run": len(history.epoch),
        "stopped_early": bool(stopper.stopped_epoch > 0),
        "best_epoch": best + 1,
        "best_val_loss": val_loss[best] if val_loss else None,
        "history": metrics,
        "label_priors": list(label_info.priors) if label_info.priors else None,
        "label_mean": label_info.mean if label_info.kind == "regression" else None,
        "label_scale": label_info.scale if label_info.kind == "regression" else None,
        "class_weights": ({str(k): v for k, v in class_weight.items()}
                          if class_weight else None),
        "num_parameters": int(model.count_params()),
        "model_config": settings,
    }


# ---------------------------------------------------------------------------------------------
# Export


def serving_raw_spec(custom_config: dict[str, Any], raw_feature_spec: dict[str, Any],
                     with_label: bool) -> dict[str, Any]:
    """The raw columns to parse: the features, plus the label's inputs only when asked.

    Serving parses the features only: a request never needs the label column (or a derive
    input that is not a feature), nor columns the model does not use.
    """
    columns = {f.source for f in transformed_features(custom_config)}
    if with_label:
        label = custom_config["label"]
        columns.add(label["column"])
        if label.get("derive"):
            columns.add(label["derive"]["denominator"])
    return {name: spec for name, spec in raw_feature_spec.items() if name in columns}


def export_serving_model(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
                         custom_config: dict[str, Any], serving_model_dir: str) -> None:
    """SavedModel with `serving_default` and `transform_features` (see the module docstring)."""
    # An attribute of the model, so the TFT layer (and its vocabularies) is saved with it.
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    serving_spec = serving_raw_spec(custom_config, raw_spec, with_label=False)
    transform_spec = serving_raw_spec(custom_config, raw_spec, with_label=True)
    examples = tf.TensorSpec(shape=[None], dtype=tf.string, name=SIGNATURE_INPUT)

    @tf.function(input_signature=[examples])
    def serve(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        inputs = {name: transformed[name] for name in model.input_names}
        return {OUTPUT_KEY: model(inputs, training=False)}

    @tf.function(input_signature=[examples])
    def transform_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.tft_layer(tf.io.parse_example(serialized, transform_spec))

    model.save(serving_model_dir, **SAVE_OPTIONS, signatures={
        SERVING_SIGNATURE: serve.get_concrete_function(),
        TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
    })


def describe_model_inputs(custom_config: dict[str, Any]) -> list[dict[str, Any]]:
    """Each model input, in the model's order, as the ModelOptimizer documents it for the
    TFLite models' preprocessing.json: its raw column, and whether it is a z-scored number, a
    bucket id or a vocabulary id."""
    oov = int(custom_config["transform"]["oov_buckets"])
    described = []
    for feature in transformed_features(custom_config):
        kind = ("categorical" if feature.vocabulary is not None
                else "bucket" if feature.name == bucket_name(feature.source) else "numeric")
        entry = {"name": feature.name, "source": feature.source, "kind": kind}
        if kind == "categorical":
            entry.update(vocabulary=feature.vocabulary, oov_buckets=oov,
                         missing=MISSING_CATEGORY)
        described.append(entry)
    return described
