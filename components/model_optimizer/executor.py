"""ModelOptimizer executor: a pruned SavedModel and TFLite models of the trained model.

Outputs:
- `pruned_model` (a Model artifact laid out like the Trainer's): `Format-Serving/` with the same
  signatures as the dense model (`serving_default`: serialized raw tf.Example -> `outputs`;
  `transform_features`), built by the Trainer's own `export_serving_model`, and `keras_model/`;
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

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2 (tf-keras): before TF is imported

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402

from components.model_optimizer import data, preprocessing_spec, pruning, tflite  # noqa: E402
from pipeline.modules import trainer  # noqa: E402

MODEL_KEY = standard_component_specs.MODEL_KEY
TRANSFORMED_EXAMPLES_KEY = "transformed_examples"
TRANSFORM_GRAPH_KEY = standard_component_specs.TRANSFORM_GRAPH_KEY
SCHEMA_KEY = standard_component_specs.SCHEMA_KEY
PRUNED_MODEL_KEY = "pruned_model"
OPTIMIZED_MODELS_KEY = "optimized_models"
MODULE_CONFIG_KEY = "module_config"
OPTIMIZATION_KEY = "optimization"
CODE_FINGERPRINT_KEY = "code_fingerprint"

RESULT_FILE = "optimization.json"
SCHEMA_FILE = "schema.pbtxt"
SERVING_DIR = "Format-Serving"
PRUNED = "pruned"


def read_result(optimized_models_uri: str) -> dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(optimized_models_uri, RESULT_FILE)) as handle:
        return json.load(handle)


def _measure(path: str) -> dict[str, int]:
    return {"size_bytes": data.size_on_disk(path), "gzip_bytes": data.gzip_size(path)}


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = json.loads(exec_properties[MODULE_CONFIG_KEY])
        settings = json.loads(exec_properties[OPTIMIZATION_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[TRANSFORMED_EXAMPLES_KEY])
        graph = artifact_utils.get_single_instance(input_dict[TRANSFORM_GRAPH_KEY])
        pruned_model = artifact_utils.get_single_instance(output_dict[PRUNED_MODEL_KEY])
        optimized = artifact_utils.get_single_instance(output_dict[OPTIMIZED_MODELS_KEY])

        schema = input_dict.get(SCHEMA_KEY) or []
        schema_file = os.path.join(schema[0].uri, SCHEMA_FILE) if schema else None
        output = tft.TFTransformOutput(graph.uri)
        dense = tf.keras.models.load_model(os.path.join(model.uri, trainer.KERAS_MODEL_DIR))
        train_files = data.split_files(examples.uri, "train")
        dense_serving = os.path.join(model.uri, SERVING_DIR)
        result: dict[str, Any] = {
            "dense": {"name": "dense", "format": "saved_model", "path": dense_serving,
                      **_measure(dense_serving), **data.weights_sizes(dense),
                      "sparsity": pruning.sparsity(dense)["prunable"],
                      "sparsity_detail": pruning.sparsity(dense)},
            "variants": [],
        }
        preprocessing = None
        for name in settings["variants"]:
            started = time.monotonic()
            if name == PRUNED:
                entry = self._prune(config, settings, output, dense, train_files,
                                    pruned_model.uri)
            else:
                # The device client's preprocessing, read off the Transform graph once.
                preprocessing = preprocessing or preprocessing_spec.describe(config, output)
                entry = self._convert(name, settings, output, dense, train_files,
                                      os.path.join(optimized.uri, name), schema_file,
                                      preprocessing)
            entry["seconds"] = round(time.monotonic() - started, 1)
            logging.info("Variant %s: %s", name, json.dumps(entry, sort_keys=True))
            result["variants"].append(entry)
        with tf.io.gfile.GFile(os.path.join(optimized.uri, RESULT_FILE), "w") as handle:
            handle.write(json.dumps(result, indent=2, sort_keys=True))
        optimized.set_string_custom_property("variants", ",".join(settings["variants"]))

    @staticmethod
    def _prune(config: dict[str, Any], settings: dict[str, Any], output: tft.TFTransformOutput,
               dense: tf.keras.Model, train_files: list[str], target_uri: str) -> dict[str, Any]:
        model_settings = config["model"]
        tf.keras.utils.set_random_seed(int(model_settings["seed"]))
        model = trainer.build_keras_model_from_transform_output(config, output)
        pruning.copy_weights(dense, model)
        train = data.transformed_dataset(train_files, output, model.input_names,
                                         int(model_settings["batch_size"]),
                                         seed=int(model_settings["seed"]))
        _, class_weight = trainer.measure_label(train, config, output)
        schedule = pruning.Schedule(
            target=float(settings["target_sparsity"]),
            begin_step=int(settings["pruning_begin_step"]),
            end_step=int(settings["pruning_end_step"]),
            frequency=int(settings["pruning_frequency"]),
            steps=int(settings["finetune_steps"]))
        learning_rate = (float(settings["finetune_learning_rate"])
                         or float(model_settings["learning_rate"]))
        stripped, history = pruning.prune(model, train, schedule, config["label"]["kind"],
                                          learning_rate, class_weight)
        serving = os.path.join(target_uri, SERVING_DIR)
        trainer.export_serving_model(stripped, output, config, serving)
        measured = pruning.sparsity(stripped)
        return {"name": PRUNED, "format": "saved_model", "path": serving,
                **_measure(serving), **data.weights_sizes(stripped),
                "sparsity": measured["prunable"], "sparsity_detail": measured,
                "target_sparsity": schedule.target,
                "finetune": {"steps": schedule.steps, "learning_rate": learning_rate,
                             "begin_step": schedule.begin_step, "end_step": schedule.end_step,
                             "frequency": schedule.frequency, "history": history},
                "inputs": "serialized raw tf.Example, as the dense model (same signatures)"}

    @staticmethod
    def _convert(name: str, settings: dict[str, Any], output: tft.TFTransformOutput,
                 dense: tf.keras.Model, train_files: list[str], target_dir: str,
                 schema_file: str | None, preprocessing: dict[str, Any]) -> dict[str, Any]:
        mode = tflite.MODES[name]
        representative = None
        if mode == "int8":
            sample = data.representative_sample(train_files, output, dense.input_names,
                                                int(settings["representative_samples"]))
            representative = lambda: iter(sample)  # noqa: E731
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
                "representative_samples": int(settings["representative_samples"])
                if mode == "int8" else None,
                "files": files,
                "preprocessing_bytes": os.path.getsize(spec_path),
                "inputs": "transformed features (one [batch, 1] input per model input); the "
                          "tf.Transform graph is not inside the .tflite (its vocabulary hash "
                          "tables cannot be initialised by the TFLite runtime): compute the "
                          f"inputs from raw rows with {preprocessing_spec.PREPROCESSING_FILE}"}
