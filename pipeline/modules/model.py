"""The Keras model on transformed features: a DNN, or wide & deep.

Its inputs are the Transform outputs (one `(1,)` Input per feature, named by its transformed
name), so the same model can be wrapped for serving (raw tf.Example -> TFT layer -> model) and,
on its own, converted to TFLite and pruned with TFMOT. That second use restricts the layers to
ones TFMOT can prune and TFLite can convert: Dense, Embedding, Flatten, Dropout, Concatenate.
Integer ids go through Embeddings; the wide part is an Embedding with as many dimensions as the
output, which is exactly a linear model on the one-hot ids without a one-hot layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
from tensorflow.python.autograph.core import config as _autograph_config

from pipeline.modules.features import TransformedFeature, transformed_features

OUTPUT_LAYER = "output"
STANDARDIZED_LAYER = "output_standardized"  # regression: the estimate in standard deviations
_MIN_PRIOR = 1e-6  # keeps log-odds finite when a class is absent from the sample


@dataclass(frozen=True)
class LabelInfo:
    """What the model needs to know about the label, measured on the training data.

    `priors` (class frequencies, binary as [p(0), p(1)]) start the output bias at the prior so
    training does not first spend steps learning the class balance; `mean` does the same for a
    regression target, and `scale` (its standard deviation) is what the network's output is
    multiplied by: the network learns the target in standard deviations, so a label in the
    millions is learned as well as one near 1.
    """

    kind: str
    num_classes: int = 2
    priors: tuple[float, ...] | None = None
    mean: float = 0.0
    scale: float = 1.0

    @property
    def output_units(self) -> int:
        return self.num_classes if self.kind == "multiclass" else 1

    def initial_bias(self) -> list[float]:
        if self.kind == "regression":
            return [float(self.mean)]
        priors = self.priors or (1.0 / self.num_classes,) * self.num_classes
        clipped = [min(max(p, _MIN_PRIOR), 1.0 - _MIN_PRIOR) for p in priors]
        if self.kind == "binary":
            return [math.log(clipped[1] / clipped[0])]
        return [math.log(p) for p in clipped]


def leave_tf_keras_to_tracing() -> None:
    """Tells AutoGraph not to rewrite tf-keras's own code, as it never rewrote Keras 2's.

    TF 2.16's AutoGraph exempts the `keras` package but not `tf_keras`, its Keras 2 under a new
    name, so the first `fit` (and every save) re-parsed and rewrote Keras's training, loss and
    metric code: about half the Trainer's time (docs/performance.md), with bit-identical
    results. Later TensorFlow releases carry the same rule. Layers users subclass are still
    converted.
    """
    rule = _autograph_config.DoNotConvert("tf_keras")
    rules = _autograph_config.CONVERSION_RULES
    if not any(isinstance(r, _autograph_config.DoNotConvert) and r.matches("tf_keras")
               for r in rules):
        _autograph_config.CONVERSION_RULES = (rule, *rules)


leave_tf_keras_to_tracing()


def build_model(custom_config: dict[str, Any], cardinalities: dict[str, int],
                label_info: LabelInfo) -> tf.keras.Model:
    """Compiled model: dict of transformed features ([batch, 1] each) -> prediction.

    Output: binary [batch, 1] probability of class 1; multiclass [batch, classes] softmax;
    regression [batch, 1] linear.
    """
    settings = custom_config["model"]
    features = transformed_features(custom_config)
    if not features:
        raise ValueError("the config lists no feature")
    l2 = float(settings.get("l2", 0.0))
    regularizer = tf.keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = {f.name: tf.keras.Input(shape=(1,), name=f.name, dtype=_dtype(f)) for f in features}
    floats = [inputs[f.name] for f in features if f.kind == "float"]
    ids = [f for f in features if f.kind == "id"]

    seeds = Seeds(int(settings.get("seed") or 0))
    embedded = [_embed(inputs[f.name], cardinalities[f.name], int(settings["embedding_dim"]),
                       f"{f.name}_embedding", regularizer, seeds) for f in ids]
    head = [_deep(_concat(floats + embedded, "deep_inputs"), settings, regularizer, seeds)]
    if settings["type"] == "wide_deep":
        head += floats + [_embed(inputs[f.name], cardinalities[f.name], label_info.output_units,
                                 f"{f.name}_wide", regularizer, seeds) for f in ids]
    elif settings["type"] != "dnn":
        raise ValueError(f"unknown model type '{settings['type']}': use 'dnn' or 'wide_deep'")

    if label_info.kind == "regression":
        outputs = _in_label_units(_concat(head, "head_inputs"), label_info, regularizer, seeds)
    else:
        outputs = tf.keras.layers.Dense(
            label_info.output_units, activation=_ACTIVATIONS[label_info.kind],
            kernel_regularizer=regularizer, kernel_initializer=seeds.glorot(),
            bias_initializer=tf.keras.initializers.Constant(label_info.initial_bias()),
            name=OUTPUT_LAYER)(_concat(head, "head_inputs"))
    model = tf.keras.Model(inputs=inputs, outputs=outputs, name=settings["type"])
    compile_model(model, label_info.kind, float(settings["learning_rate"]))
    return model


def _in_label_units(head: tf.Tensor, label_info: LabelInfo, regularizer, seeds: Seeds
                    ) -> tf.Tensor:
    """A regression output: the network's estimate in standard deviations from the mean
    (`STANDARDIZED_LAYER`), then `mean + scale * estimate` by a Dense layer that is not trained
    (nor pruned), its kernel and bias the label's scale and mean: plain Keras weights, so the
    model saves, clones, prunes and converts as any other."""
    standardized = tf.keras.layers.Dense(
        1, activation="linear", kernel_regularizer=regularizer,
        kernel_initializer=seeds.glorot(), bias_initializer="zeros",
        name=STANDARDIZED_LAYER)(head)
    return tf.keras.layers.Dense(
        1, activation="linear", trainable=False,
        kernel_initializer=tf.keras.initializers.Constant(float(label_info.scale)),
        bias_initializer=tf.keras.initializers.Constant(label_info.initial_bias()),
        name=OUTPUT_LAYER)(standardized)


def compile_model(model: tf.keras.Model, kind: str, learning_rate: float) -> None:
    """Adam + the loss and headline metric of the task (also for a rebuilt or pruned model)."""
    loss, metric = {
        "binary": (tf.keras.losses.BinaryCrossentropy(), tf.keras.metrics.AUC(name="auc")),
        "multiclass": (tf.keras.losses.SparseCategoricalCrossentropy(),
                       tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")),
        "regression": (tf.keras.losses.MeanSquaredError(),
                       tf.keras.metrics.MeanAbsoluteError(name="mae")),
    }[kind]
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  metrics=[metric])


_ACTIVATIONS = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


def _dtype(feature: TransformedFeature) -> tf.DType:
    return tf.float32 if feature.kind == "float" else tf.int64


def _concat(tensors: list[tf.Tensor], name: str) -> tf.Tensor:
    # Concatenate needs two inputs or more; a single one passes through.
    if len(tensors) == 1:
        return tensors[0]
    return tf.keras.layers.Concatenate(name=name)(tensors)


class Seeds:
    """A seed of its own for every random initializer and dropout layer, from the config's
    seed, so that the initial weights are named by the config rather than left to TensorFlow's
    global generator."""

    def __init__(self, base: int):
        self._next = base * 1000

    def next(self) -> int:
        self._next += 1
        return self._next

    def glorot(self) -> tf.keras.initializers.Initializer:
        return tf.keras.initializers.GlorotUniform(seed=self.next())


def _embed(ids: tf.Tensor, cardinality: int, dim: int, name: str,
           regularizer: tf.keras.regularizers.Regularizer | None, seeds: Seeds) -> tf.Tensor:
    """[batch, 1] ids -> [batch, dim]."""
    initializer = tf.keras.initializers.RandomUniform(-0.05, 0.05, seed=seeds.next())
    vectors = tf.keras.layers.Embedding(max(int(cardinality), 1), dim,
                                        embeddings_initializer=initializer,
                                        embeddings_regularizer=regularizer, name=name)(ids)
    return tf.keras.layers.Flatten(name=f"{name}_flat")(vectors)


def _deep(x: tf.Tensor, settings: dict[str, Any],
          regularizer: tf.keras.regularizers.Regularizer | None, seeds: Seeds) -> tf.Tensor:
    dropout = float(settings.get("dropout", 0.0))
    for i, units in enumerate(settings.get("hidden_units", [])):
        x = tf.keras.layers.Dense(int(units), activation="relu", kernel_regularizer=regularizer,
                                  kernel_initializer=seeds.glorot(), name=f"hidden_{i}")(x)
        if dropout > 0:
            x = tf.keras.layers.Dropout(dropout, seed=seeds.next(), name=f"dropout_{i}")(x)
    return x
