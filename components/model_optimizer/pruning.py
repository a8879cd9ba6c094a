"""Magnitude pruning with TFMOT: fine-tune the trained model under a polynomial sparsity
schedule, then strip the pruning wrappers so what remains is a plain Keras model whose pruned
weights are exact zeros.

Every trained Dense kernel and Embedding table is pruned (TFMOT's defaults for those layers;
biases are not; a layer the model does not train, such as a regression output's scale, is
not). The sparsity reported is measured from the stripped weights, never assumed from the target.
Fine-tuning uses the task's standard loss (binary or sparse categorical cross-entropy, mean
squared error) and Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

_LOSSES = {"binary": tf.keras.losses.BinaryCrossentropy,
           "multiclass": tf.keras.losses.SparseCategoricalCrossentropy,
           "regression": tf.keras.losses.MeanSquaredError}


@dataclass(frozen=True)
class Schedule:
    """A PolynomialDecay from 0 to `target` sparsity between two fine-tuning steps."""

    target: float
    begin_step: int
    end_step: int
    frequency: int
    steps: int

    def pruning_schedule(self) -> tfmot.sparsity.keras.PruningSchedule:
        return tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=self.target, begin_step=self.begin_step,
            end_step=self.end_step, frequency=self.frequency)


def fresh_copy(model: tf.keras.Model) -> tf.keras.Model:
    """The same architecture with the same weights, in new layers: pruning wraps the layers of
    the model it is given and trains them, and the dense model must stay as it was."""
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def prune(model: tf.keras.Model, train: tf.data.Dataset, schedule: Schedule, kind: str,
          learning_rate: float, class_weight: dict[int, float] | None
          ) -> tuple[tf.keras.Model, dict[str, list[float]]]:
    """(stripped pruned model, fine-tuning loss every 10% of the steps) after `schedule.steps`
    steps on `train`, which yields (transformed features, label) batches endlessly.

    The loop is Keras' fit reduced to what is needed (loss with class weights and the model's
    regularization, Adam, the pruning step callback), traced without autograph: Keras' fit
    spends most of its time converting the pruning wrappers' Python (docs/performance.md).
    """
    def wrap(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
        if _prunable(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(
                layer, pruning_schedule=schedule.pruning_schedule())
        return layer

    wrapped = tf.keras.models.clone_model(model, clone_function=wrap)
    wrapped.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
                    loss=_LOSSES[kind]())
    weights = None
    if class_weight:
        weights = tf.constant([class_weight.get(i, 1.0) for i in range(max(class_weight) + 1)],
                              dtype=tf.float32)

    @tf.function(autograph=False)
    def train_step(features: dict[str, tf.Tensor], label: tf.Tensor) -> tf.Tensor:
        sample_weight = None
        if weights is not None:
            sample_weight = tf.gather(weights, tf.cast(tf.reshape(label, [-1]), tf.int32))
        with tf.GradientTape() as tape:
            prediction = wrapped(features, training=True)
            loss = wrapped.compute_loss(features, label, prediction, sample_weight)
        variables = wrapped.trainable_variables
        wrapped.optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    # Adam's slots exist before the first step, so that step is traced once, not twice (a
    # tf.function that creates variables is traced again without them).
    wrapped.optimizer.build(wrapped.trainable_variables)
    step_callback = tfmot.sparsity.keras.UpdatePruningStep()
    step_callback.set_model(wrapped)
    step_callback.on_train_begin()
    batches = iter(train)
    every = max(1, schedule.steps // 10)
    history: dict[str, list[float]] = {"step": [], "loss": []}
    for step in range(schedule.steps):
        step_callback.on_train_batch_begin(batch=step)
        features, label = next(batches)
        loss = train_step(features, label)
        if (step + 1) % every == 0 or step + 1 == schedule.steps:
            history["step"].append(step + 1)
            history["loss"].append(float(loss))
    step_callback.on_epoch_end(batch=schedule.steps)  # applies the final masks to the weights
    return tfmot.sparsity.keras.strip_pruning(wrapped), history


def _prunable(layer: tf.keras.layers.Layer) -> bool:
    """Dense and Embedding layers that are trained (a fixed one, such as a regression output's
    scale, is part of the model's definition, not of what it learned)."""
    return layer.trainable and isinstance(layer, (tf.keras.layers.Dense,
                                                  tf.keras.layers.Embedding))


def prunable_weights(model: tf.keras.Model) -> list[tf.Variable]:
    """The weights pruning applies to: trained Dense kernels and Embedding tables."""
    return [layer.kernel if isinstance(layer, tf.keras.layers.Dense) else layer.embeddings
            for layer in model.layers if _prunable(layer)]


def sparsity(model: tf.keras.Model) -> dict[str, float]:
    """Fractions of exact zeros, measured: over the prunable weights, and over all weights."""
    prunable = [w.numpy() for w in prunable_weights(model)]
    every = [w.numpy() for w in model.weights]

    def zeros(arrays: list[np.ndarray]) -> float:
        total = sum(a.size for a in arrays)
        return float(sum(int(np.sum(a == 0)) for a in arrays) / total) if total else 0.0

    return {"prunable": zeros(prunable), "all_weights": zeros(every),
            "prunable_parameters": int(sum(a.size for a in prunable)),
            "parameters": int(sum(a.size for a in every))}
