"""ModelOptimizer executor: a pruned SavedModel and TFLite models of the trained model.

Outputs:
- `pruned_model` (a Model artifact laid out like the Trainer's): `Format-Serving/` with the same
  signatures as the dense model (`serving_default`: serialized raw tf.Example -> `outputs`;
  `transform_features`), built by the user module's own `export_serving_model`;
- `optimized_models`: `<variant>/model.tflite` and `<variant>/preprocessing.json` per TFLite
  variant, and `optimization.json`: for the dense model and each variant, the files, sizes on
  disk and gzipped, the weights' size, the measured sparsity, and (TFLite) the stored tensors'
  dtypes.

Nothing here judges quality: the VariantEvaluator does, on the same eval split and slices.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs

from components.model_optimizer import data, preprocessing_spec, pruning, tflite
from components.model_optimizer.params import OptimizationSettings
from components.shared import user_code
from components.shared.artifacts import OptimizedModels, read_json, write_json
from components.shared.model_contract import (
    KERAS_MODEL_DIR,
    OUTPUTS,
    SERVING_DIR,
    TRAINING_SUMMARY,
)
from components.shared.params import decode

MODEL_KEY = standard_component_specs.MODEL_KEY
TRANSFORMED_EXAMPLES_KEY = "transformed_examples"
TRANSFORM_GRAPH_KEY = standard_component_specs.TRANSFORM_GRAPH_KEY
SCHEMA_KEY = standard_component_specs.SCHEMA_KEY
PRUNED_MODEL_KEY = "pruned_model"
OPTIMIZED_MODELS_KEY = "optimized_models"
SETTINGS_KEY = "settings"
CUSTOM_CONFIG_KEY = "custom_config"
CODE_FINGERPRINT_KEY = "code_fingerprint"

# The user module's functions (see ModelOptimizer's docstring).
EXPORT_FN = "export_serving_model"
DESCRIBE_INPUTS_FN = "describe_model_inputs"

SCHEMA_FILE = "schema.pbtxt"
PRUNED = "pruned"


def _measure(path: str) -> dict[str, int]:
    return {"size_bytes": data.size_on_disk(path), "gzip_bytes": data.gzip_size(path)}


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = decode(exec_properties[SETTINGS_KEY], OptimizationSettings)
        custom_config = decode(exec_properties[CUSTOM_CONFIG_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[TRANSFORMED_EXAMPLES_KEY])
        graph = artifact_utils.get_single_instance(input_dict[TRANSFORM_GRAPH_KEY])
        pruned_model = artifact_utils.get_single_instance(output_dict[PRUNED_MODEL_KEY])
        optimized = artifact_utils.get_single_instance(output_dict[OPTIMIZED_MODELS_KEY])

        schema = input_dict.get(SCHEMA_KEY) or []
        schema_file = os.path.join(schema[0].uri, SCHEMA_FILE) if schema else None
        output = tft.TFTransformOutput(graph.uri)
        dense = tf.keras.models.load_model(os.path.join(model.uri, KERAS_MODEL_DIR))
        train_files = data.split_files(examples.uri, "train")
        dense_serving = os.path.join(model.uri, SERVING_DIR)
        result: dict[str, Any] = {
            "dense": {"name": "dense", "format": "saved_model", "path": dense_serving,
                      **_measure(dense_serving), **data.weights_sizes(dense),
                      "sparsity": pruning.sparsity(dense)["prunable"],
                      "sparsity_detail": pruning.sparsity(dense)},
            "variants": [],
        }
        export = user_code.load(exec_properties, EXPORT_FN)

        def export_pruned(pruned: tf.keras.Model, folder: str) -> None:
            export(pruned, output, custom_config, folder)

        def sample(count: int) -> list[dict[str, Any]]:
            """The first `count` transformed training examples, to calibrate int8 on."""
            return data.representative_sample(train_files, output, dense.input_names, count)

        preprocessing = None
        for name in settings.variants:
            started = time.monotonic()
            if name == PRUNED:
                entry = self._prune(settings, output, dense, train_files, pruned_model.uri,
                                    export_pruned)
            else:
                # The device client's preprocessing, read off the Transform graph once.
                inputs = user_code.load(exec_properties, DESCRIBE_INPUTS_FN)(custom_config)
                preprocessing = preprocessing or preprocessing_spec.describe(
                    inputs, output, (read_json(model.uri, TRAINING_SUMMARY) or {}).get(OUTPUTS))
                entry = self._convert(name, settings, dense, sample,
                                      os.path.join(optimized.uri, name), schema_file,
                                      preprocessing)
            entry["seconds"] = round(time.monotonic() - started, 1)
            logging.info("Variant %s: %s", name, json.dumps(entry, sort_keys=True))
            result["variants"].append(entry)
        write_json(optimized.uri, OptimizedModels.FILE, result)
        optimized.set_string_custom_property("variants", ",".join(settings.variants))

    @staticmethod
    def _prune(settings: OptimizationSettings, output: tft.TFTransformOutput,
               dense: tf.keras.Model, train_files: list[str], target_uri: str,
               export: Any) -> dict[str, Any]:
        tf.keras.utils.set_random_seed(settings.seed)
        def shuffled() -> tf.data.Dataset:
            # One dataset per reader: iterators of one dataset share its shuffle seeds, and a
            # reader's read-ahead would advance them by however far it got.
            return data.transformed_dataset(train_files, output, dense.input_names,
                                            settings.batch_size, seed=settings.seed)

        class_weight = (data.balanced_class_weights(shuffled(), settings.task)
                        if settings.class_weight == "balanced" else None)
        train = shuffled()
        schedule = pruning.Schedule(
            target=settings.target_sparsity, begin_step=settings.pruning_begin_step,
            end_step=settings.pruning_end_step, frequency=settings.pruning_frequency,
            steps=settings.finetune_steps)
        stripped, history = pruning.prune(pruning.fresh_copy(dense), train, schedule,
                                          settings.task, settings.learning_rate, class_weight)
        serving = os.path.join(target_uri, SERVING_DIR)
        export(stripped, serving)
        measured = pruning.sparsity(stripped)
        return {"name": PRUNED, "format": "saved_model", "path": serving,
                **_measure(serving), **data.weights_sizes(stripped),
                "sparsity": measured["prunable"], "sparsity_detail": measured,
                "target_sparsity": schedule.target,
                "finetune": {"steps": schedule.steps, "learning_rate": settings.learning_rate,
                             "begin_step": schedule.begin_step, "end_step": schedule.end_step,
                             "frequency": schedule.frequency, "history": history},
                "inputs": "serialized raw tf.Example, as the dense model (same signatures)"}

    @staticmethod
    def _convert(name: str, settings: OptimizationSettings, dense: tf.keras.Model,
                 sample: Any, target_dir: str, schema_file: str | None,
                 preprocessing: dict[str, Any]) -> dict[str, Any]:
        mode = tflite.MODES[name]
        representative = None
        if mode == "int8":
            examples = sample(settings.representative_samples)
            representative = lambda: iter(examples)  # noqa: E731
        content = tflite.convert(dense, mode, representative)
        tf.io.gfile.makedirs(target_dir)
        path = os.path.join(target_dir, tflite.MODEL_FILE)
        with tf.io.gfile.GFile(path, "wb") as handle:
            handle.write(content)
        spec_path = os.path.join(target_dir, preprocessing_spec.PREPROCESSING_FILE)
        with tf.io.gfile.GFile(spec_path, "w") as handle:
            handle.write(json.dumps(preprocessing, indent=1))
        files = [tflite.MODEL_FILE, preprocessing_spec.PREPROCESSING_FILE]
        if schema_file:  # the raw columns' types and domains, for the client's input checks
            tf.io.gfile.copy(schema_file, os.path.join(target_dir, SCHEMA_FILE), overwrite=True)
            files.append(SCHEMA_FILE)
        weights = tflite.weight_summary(content)
        return {"name": name, "format": "tflite", "path": path, **_measure(path),
                "weights_bytes": weights["weights_bytes"], "sparsity": None,
                "tensors": weights, "quantization": mode,
                "representative_samples": settings.representative_samples
                if mode == "int8" else None,
                "files": files,
                "preprocessing_bytes": os.path.getsize(spec_path),
                "inputs": "transformed features (one [batch, 1] input per model input); the "
                          "tf.Transform graph is not inside the .tflite (its vocabulary hash "
                          "tables cannot be initialised by the TFLite runtime): compute the "
                          f"inputs from raw rows with {preprocessing_spec.PREPROCESSING_FILE}"}
