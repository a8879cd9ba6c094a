"""VariantEvaluator executor: judges every optimized variant against the dense model, on the
same eval split and slices, and measures batch-1 latency.

- pruned SavedModel: its TFMA evaluation (PrunedModelEvaluator: candidate pruned, baseline
  dense, the pipeline's slices) is read back into per-slice comparisons;
- TFLite models: the raw eval examples go through the Transform graph (exactly the transformed
  eval examples, with the raw columns kept for slicing), then the TFLite interpreter and the dense
  Keras model score them, and the same metrics are computed per slice;
- both then go through `judgement.judge`: same rule, same delta rows.

Output `variants.json`: the dense model's and every variant's sizes (from the ModelOptimizer),
latency, verdict (blessed, reason), deltas per slice and metric, and where its files are.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2 (tf-keras): before TF is imported

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402

from components.model_optimizer import executor as optimizer  # noqa: E402
from components.model_optimizer.tflite import TFLiteModel  # noqa: E402
from components.variant_evaluator import judgement, latency, metrics, tfma_results  # noqa: E402
from pipeline.modules import trainer  # noqa: E402
from pipeline.modules.features import LABEL_KEY  # noqa: E402

EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
MODEL_KEY = standard_component_specs.MODEL_KEY
TRANSFORM_GRAPH_KEY = standard_component_specs.TRANSFORM_GRAPH_KEY
OPTIMIZED_MODELS_KEY = "optimized_models"
PRUNED_MODEL_KEY = "pruned_model"
PRUNED_EVALUATION_KEY = "pruned_evaluation"
VARIANTS_KEY = "variants"
MODULE_CONFIG_KEY = "module_config"
RULES_KEY = "rules"
DECISION_THRESHOLD_KEY = "decision_threshold"
SLICES_KEY = "slices"
MIN_SLICE_EXAMPLES_KEY = "min_slice_examples"
MIN_CLASS_EXAMPLES_KEY = "min_class_examples"
LATENCY_CALLS_KEY = "latency_calls"
CODE_FINGERPRINT_KEY = "code_fingerprint"

VARIANTS_FILE = "variants.json"
BLESSED_VARIANTS = "blessed_variants"
_BATCH = 512
_LATENCY_EXAMPLES = 200


def read_variants(uri: str) -> dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(uri, VARIANTS_FILE)) as handle:
        return json.load(handle)


def to_json(value: Any) -> str:
    """Sorted, strict JSON: NaN and infinities (never expected) become null."""
    def finite(v: Any) -> Any:
        if isinstance(v, float | np.floating):
            return float(v) if np.isfinite(v) else None
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [finite(x) for x in v]
        return v

    return json.dumps(finite(value), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _single(input_dict: dict[str, list[types.Artifact]], key: str) -> types.Artifact | None:
    artifacts = input_dict.get(key) or []
    return artifact_utils.get_single_instance(artifacts) if artifacts else None


def _raw_eval_examples(examples_uri: str) -> list[bytes]:
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, "Split-eval", "*")))
    if not files:
        raise FileNotFoundError(f"no 'eval' split under {examples_uri}")
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _transformed(serialized: list[bytes], output: tft.TFTransformOutput,
                 config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every transformed feature and the label of the raw examples, through the Transform graph."""
    spec = trainer.serving_raw_spec(config, output.raw_feature_spec(), with_label=True)
    layer = output.transform_features_layer()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(serialized), _BATCH):
        batch = tf.constant(serialized[start:start + _BATCH])
        for name, tensor in layer(tf.io.parse_example(batch, spec)).items():
            parts.setdefault(name, []).append(tensor.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = json.loads(exec_properties[MODULE_CONFIG_KEY])
        rules = [judgement.MetricRule(name, float(r["tolerance"]), bool(r["higher_is_better"]))
                 for name, r in json.loads(exec_properties[RULES_KEY]).items()]
        tfma_keys = {name: r["tfma_key"]
                     for name, r in json.loads(exec_properties[RULES_KEY]).items()}
        min_examples = int(exec_properties[MIN_SLICE_EXAMPLES_KEY])
        min_class = int(exec_properties.get(MIN_CLASS_EXAMPLES_KEY) or 1)
        calls = int(exec_properties[LATENCY_CALLS_KEY])
        kind = config["label"]["kind"]
        threshold = float(exec_properties.get(DECISION_THRESHOLD_KEY) or 0.5)

        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        graph = artifact_utils.get_single_instance(input_dict[TRANSFORM_GRAPH_KEY])
        optimized = artifact_utils.get_single_instance(input_dict[OPTIMIZED_MODELS_KEY])
        pruned_evaluation = _single(input_dict, PRUNED_EVALUATION_KEY)
        result_artifact = artifact_utils.get_single_instance(output_dict[VARIANTS_KEY])
        made = optimizer.read_result(optimized.uri)

        serialized = _raw_eval_examples(examples.uri)
        output = tft.TFTransformOutput(graph.uri)
        features = _transformed(serialized, output, config)
        labels = features[LABEL_KEY]
        index = metrics.slice_index(
            [metrics.example_values(tf.train.Example.FromString(s)) for s in serialized],
            json.loads(exec_properties[SLICES_KEY]))
        dense_model = tf.keras.models.load_model(os.path.join(model.uri, trainer.KERAS_MODEL_DIR))
        dense_inputs = {name: features[name] for name in dense_model.input_names}
        dense_scores = dense_model.predict(dense_inputs, batch_size=_BATCH, verbose=0)
        sample = serialized[:_LATENCY_EXAMPLES]

        dense_entry = dict(made["dense"])
        dense_entry["latency_ms"] = latency.measure(
            latency.saved_model_call(dense_entry["path"]), sample, calls)
        dense_entry["latency_ms_model_only"] = latency.measure(
            latency.keras_call(dense_model), [{k: v[i:i + 1] for k, v in dense_inputs.items()}
                                              for i in range(len(sample))], calls)
        dense_entry["evaluation"] = {"examples": len(serialized)}
        variants = []
        for entry in made["variants"]:
            entry = dict(entry)
            if entry["format"] == "saved_model":
                if pruned_evaluation is None:
                    raise ValueError(f"variant '{entry['name']}' needs its TFMA evaluation: wire "
                                     f"the pruned model's Evaluator into '{PRUNED_EVALUATION_KEY}'")
                compared = tfma_results.comparisons(pruned_evaluation.uri, tfma_keys)
                entry["evaluation"] = {"by": "tfma", "uri": pruned_evaluation.uri,
                                       **tfma_results.validation(pruned_evaluation.uri)}
                entry["latency_ms"] = latency.measure(
                    latency.saved_model_call(entry["path"]), sample, calls)
                entry["source"] = entry["path"]
            else:
                with tf.io.gfile.GFile(entry["path"], "rb") as handle:
                    lite = TFLiteModel(handle.read())
                scores = lite.predict(features, batch_size=_BATCH)
                compared = metrics.compare(kind, threshold, labels, dense_scores, scores, index,
                                           [r.name for r in rules])
                entry["evaluation"] = {"by": "tflite_interpreter", "examples": len(serialized)}
                rows = [{name: features[name][i:i + 1].astype(dtype).reshape(1, 1)
                         for name, dtype in lite.inputs.items()} for i in range(len(sample))]
                entry["latency_ms"] = latency.measure(lite.call_runner, rows, calls)
                entry["source"] = os.path.dirname(entry["path"])
            verdict = judgement.judge(compared, rules, min_examples, min_class)
            entry.update(blessed=verdict.blessed, reason=verdict.reason, deltas=verdict.deltas,
                         judged_slices=verdict.judged_slices, small_slices=verdict.small_slices)
            logging.info("Variant %s: %s (%s)", entry["name"],
                         "blessed" if verdict.blessed else "NOT blessed", verdict.reason)
            variants.append(entry)

        result = {"dense": dense_entry, "variants": variants,
                  "judgement": {"rules": [vars(r) for r in rules],
                                "min_slice_examples": min_examples,
                                "min_class_examples": min_class,
                                "latency": {"calls": calls, "batch_size": 1}}}
        with tf.io.gfile.GFile(os.path.join(result_artifact.uri, VARIANTS_FILE), "w") as handle:
            handle.write(to_json(result))
        result_artifact.set_string_custom_property(
            BLESSED_VARIANTS, ",".join(v["name"] for v in variants if v["blessed"]))
