"""VariantEvaluator executor: judges every optimized variant against the dense model, on the
same eval split and slices, and measures batch-1 latency.

- pruned SavedModel: its TFMA evaluation (PrunedModelEvaluator: candidate pruned, baseline
  dense, the pipeline's slices) is read back into per-slice comparisons;
- TFLite models: the raw eval examples go through the dense model's `transform_features`
  signature (exactly the Transform graph it was trained with; the raw columns are kept for
  slicing), then the TFLite interpreter and the dense Keras model score them, and the same
  metrics are computed per slice;
- both then go through `judgement.judge`: same rule, same delta rows.

Output `variants.json`: the dense model's and every variant's sizes (from the ModelOptimizer),
latency, verdict (blessed, reason), deltas per slice and metric, and where its files are.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_component_specs

from components.shared.artifacts import ModelVariants, OptimizedModels, read_json, write_json
from components.shared.model_contract import (
    KERAS_MODEL_DIR,
    LABEL_KEY,
    SERVING_DIR,
    SIGNATURE_INPUT,
    TRANSFORM_SIGNATURE,
)
from components.shared.params import decode
from components.shared.tflite_model import TFLiteModel
from components.variant_evaluator import judgement, latency, metrics, tfma_results
from components.variant_evaluator.params import VariantJudgement

EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
MODEL_KEY = standard_component_specs.MODEL_KEY
OPTIMIZED_MODELS_KEY = "optimized_models"
PRUNED_EVALUATION_KEY = "pruned_evaluation"
VARIANTS_KEY = "variants"
JUDGEMENT_KEY = "judgement"
CODE_FINGERPRINT_KEY = "code_fingerprint"

BLESSED_VARIANTS = "blessed_variants"
_BATCH = 512
_LATENCY_EXAMPLES = 200


def _single(input_dict: dict[str, list[types.Artifact]], key: str) -> types.Artifact | None:
    artifacts = input_dict.get(key) or []
    return artifact_utils.get_single_instance(artifacts) if artifacts else None


def _raw_eval_examples(examples_uri: str) -> list[bytes]:
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, "Split-eval", "*")))
    if not files:
        raise FileNotFoundError(f"no 'eval' split under {examples_uri}")
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _transformed(serialized: list[bytes], serving_dir: str) -> dict[str, np.ndarray]:
    """Every transformed feature and the label of the raw examples, through the dense model's
    own `transform_features` signature: exactly the Transform graph it was trained with."""
    transform = tf.saved_model.load(serving_dir).signatures[TRANSFORM_SIGNATURE]
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(serialized), _BATCH):
        batch = tf.constant(serialized[start:start + _BATCH])
        for name, tensor in transform(**{SIGNATURE_INPUT: batch}).items():
            parts.setdefault(name, []).append(tensor.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


class _EvalSplit:
    """The raw eval examples, their transformed features and label, their slices, and the dense
    model's scores: what every variant is compared on."""

    def __init__(self, examples_uri: str, model_uri: str, slices: tuple[tuple[str, ...], ...]):
        self.serialized = _raw_eval_examples(examples_uri)
        self.features = _transformed(self.serialized, os.path.join(model_uri, SERVING_DIR))
        self.labels = self.features[LABEL_KEY]
        self.index = metrics.slice_index(
            [metrics.example_values(tf.train.Example.FromString(s)) for s in self.serialized],
            [list(s) for s in slices])
        self.dense_model = tf.keras.models.load_model(os.path.join(model_uri, KERAS_MODEL_DIR))
        self.dense_inputs = {name: self.features[name] for name in self.dense_model.input_names}
        self.dense_scores = self.dense_model.predict(self.dense_inputs, batch_size=_BATCH,
                                                     verbose=0)
        self.sample = self.serialized[:_LATENCY_EXAMPLES]  # what latency is measured on


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = decode(exec_properties[JUDGEMENT_KEY], VariantJudgement)
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        optimized = artifact_utils.get_single_instance(input_dict[OPTIMIZED_MODELS_KEY])
        pruned_evaluation = _single(input_dict, PRUNED_EVALUATION_KEY)
        result_artifact = artifact_utils.get_single_instance(output_dict[VARIANTS_KEY])
        made = read_json(optimized.uri, OptimizedModels.FILE)
        if made is None:
            raise FileNotFoundError(f"{optimized.uri} holds no {OptimizedModels.FILE}")

        split = _EvalSplit(examples.uri, model.uri, settings.slices)
        dense_entry = self._dense(made["dense"], split, settings.latency_calls)
        variants = []
        for entry in made["variants"]:
            entry = dict(entry)
            if entry["format"] == "saved_model":
                compared = self._saved_model(entry, pruned_evaluation, split, settings)
            else:
                compared = self._tflite(entry, split, settings)
            verdict = judgement.judge(compared, list(settings.rules),
                                      settings.min_slice_examples, settings.min_class_examples)
            entry.update(blessed=verdict.blessed, reason=verdict.reason, deltas=verdict.deltas,
                         judged_slices=verdict.judged_slices, small_slices=verdict.small_slices)
            logging.info("Variant %s: %s (%s)", entry["name"],
                         "blessed" if verdict.blessed else "NOT blessed", verdict.reason)
            variants.append(entry)
        write_json(result_artifact.uri, ModelVariants.FILE, {
            "dense": dense_entry, "variants": variants,
            "judgement": {"rules": [vars(r) for r in settings.rules],
                          "min_slice_examples": settings.min_slice_examples,
                          "min_class_examples": settings.min_class_examples,
                          "latency": {"calls": settings.latency_calls, "batch_size": 1}}})
        result_artifact.set_string_custom_property(
            BLESSED_VARIANTS, ",".join(v["name"] for v in variants if v["blessed"]))

    @staticmethod
    def _dense(made: dict[str, Any], split: _EvalSplit, calls: int) -> dict[str, Any]:
        """The dense model's entry: latency of its serving function and of its Keras model."""
        entry = dict(made)
        entry["latency_ms"] = latency.measure(
            latency.saved_model_call(entry["path"]), split.sample, calls)
        rows = [{k: v[i:i + 1] for k, v in split.dense_inputs.items()}
                for i in range(len(split.sample))]
        entry["latency_ms_model_only"] = latency.measure(
            latency.keras_call(split.dense_model), rows, calls)
        entry["evaluation"] = {"examples": len(split.serialized)}
        return entry

    @staticmethod
    def _saved_model(entry: dict[str, Any], evaluation: types.Artifact | None,
                     split: _EvalSplit, settings: VariantJudgement
                     ) -> list[judgement.SliceComparison]:
        """A SavedModel variant (pruned): compared by its TFMA evaluation against the dense."""
        if evaluation is None:
            raise ValueError(f"variant '{entry['name']}' needs its TFMA evaluation: wire the "
                             f"pruned model's Evaluator into '{PRUNED_EVALUATION_KEY}'")
        compared = tfma_results.comparisons(
            evaluation.uri, {rule.name: rule.tfma_key for rule in settings.rules})
        entry["evaluation"] = {"by": "tfma", "uri": evaluation.uri,
                               **tfma_results.validation(evaluation.uri)}
        entry["latency_ms"] = latency.measure(
            latency.saved_model_call(entry["path"]), split.sample, settings.latency_calls)
        entry["source"] = entry["path"]
        return compared

    @staticmethod
    def _tflite(entry: dict[str, Any], split: _EvalSplit, settings: VariantJudgement
                ) -> list[judgement.SliceComparison]:
        """A TFLite variant: scored by the interpreter on the same transformed features."""
        with tf.io.gfile.GFile(entry["path"], "rb") as handle:
            lite = TFLiteModel(handle.read())
        scores = lite.predict(split.features, batch_size=_BATCH)
        compared = metrics.compare(settings.task, settings.decision_threshold, split.labels,
                                   split.dense_scores, scores, split.index,
                                   [r.name for r in settings.rules])
        entry["evaluation"] = {"by": "tflite_interpreter", "examples": len(split.serialized)}
        rows = [{name: split.features[name][i:i + 1].astype(dtype).reshape(1, 1)
                 for name, dtype in lite.inputs.items()} for i in range(len(split.sample))]
        entry["latency_ms"] = latency.measure(lite.call_runner, rows, settings.latency_calls)
        entry["source"] = os.path.dirname(entry["path"])
        return compared
