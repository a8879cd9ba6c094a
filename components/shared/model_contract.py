"""The layout of a trained model artifact, as the components that read one expect it.

The project's Trainer module writes it (`pipeline/modules/trainer.py`); ModelOptimizer and
VariantEvaluator read it, and any Trainer module that writes the same layout works with them:
- `Format-Serving/` (TFX's serving model folder): a SavedModel with two signatures, each taking
  serialized raw `tf.Example`s as `examples`:
  - `serving_default`: the features only (no label) -> {`outputs`: the prediction};
  - `transform_features`: the features and the label's columns -> every transformed feature,
    the label as `label_xf`: how TFMA and the VariantEvaluator read a label that is derived
    inside the pipeline;
- `keras_model/`: the Keras model on transformed features (one [batch, 1] input per feature,
  named by its transformed name), which pruning and TFLite conversion start from;
- `training_summary.json`: how training went, and under `outputs` what the model's output means:
  {"kind": binary, multiclass or regression, "classes": the class names in output order
  (binary: ["0", "1"], the output being the probability of "1"), "positive": what class "1"
  means (binary)}. The manifest of a pushed version and the TFLite models' preprocessing.json
  copy it.
  Under `tuned`: the hyperparameters that came from a Tuner ({name: value}, in place of the
  configured ones; null when nothing was tuned); the manifest copies it as
  `hyperparameters.tuned`.
"""

from __future__ import annotations

SERVING_DIR = "Format-Serving"
KERAS_MODEL_DIR = "keras_model"
SERVING_SIGNATURE = "serving_default"
TRANSFORM_SIGNATURE = "transform_features"
SIGNATURE_INPUT = "examples"
OUTPUT_KEY = "outputs"
LABEL_KEY = "label_xf"
TRAINING_SUMMARY = "training_summary.json"
OUTPUTS = "outputs"  # the training summary's section on what the model's output means
# The training summary's hyperparameters that came from a Tuner ({name: value}, null if none).
TUNED = "tuned"

# How a Keras model is saved as a SavedModel, wherever it is: without the optimizer's slots,
# and without per-layer traced call functions. Every layer of the model is a built-in one, so
# Keras rebuilds it from its config, and serving clients, TFMA (model_type tf_generic) and the
# TFLite converter use the explicit signatures. The gain is measured in docs/performance.md.
SAVE_OPTIONS = {"save_format": "tf", "include_optimizer": False, "save_traces": False}
