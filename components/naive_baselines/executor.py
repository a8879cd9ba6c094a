"""NaiveBaselines' executor: fit the baselines on train, evaluate them with TFMA on eval, judge
the model's lift over the best of them, write the baselines' metrics and the blessing."""

from __future__ import annotations

import json
import os
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow_model_analysis as tfma
from absl import logging
from google.protobuf import json_format
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.naive_baselines.fit import Baseline, fit_baselines
from components.naive_baselines.params import BaselineSettings
from components.naive_baselines.rows import SplitRows, read_split
from components.naive_baselines.verdict import lift_verdict
from components.shared.artifacts import NaiveBaselineMetrics, read_json, write_json
from components.shared.model_contract import OUTPUTS, TRAINING_SUMMARY
from components.shared.params import decode
from components.shared.quiet import quiet_tensorflow_warnings
from components.shared.tfma_metrics import metrics_of_records, read_metrics, slice_dict

SETTINGS_KEY = "settings"
CODE_FINGERPRINT_KEY = "code_fingerprint"
TFMA_DIR = "tfma"
TRAIN, EVAL = "train", "eval"


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        settings = decode(exec_properties[SETTINGS_KEY], BaselineSettings)
        eval_config = json_format.Parse(settings.eval_config, tfma.EvalConfig())
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        columns = sorted({k for spec in eval_config.slicing_specs for k in spec.feature_keys})
        train = read_split(examples, TRAIN, model.uri, [])
        evaluated = read_split(examples, EVAL, model.uri, columns)
        classes = ((read_json(model.uri, TRAINING_SUMMARY) or {}).get(OUTPUTS) or {}).get(
            "classes") or []
        baselines = fit_baselines(settings.kind, train.features, train.label, classes)
        output = artifact_utils.get_single_instance(output_dict["baselines"])
        slices = self._evaluate(eval_config, baselines, evaluated,
                                os.path.join(output.uri, TFMA_DIR), settings.sliced_metrics)
        record = self._judge(settings, input_dict, baselines, slices)
        record.update(rows={TRAIN: train.count, EVAL: evaluated.count})
        self._bless(input_dict, output_dict, record)
        write_json(output.uri, NaiveBaselineMetrics.FILE, record)
        for key in ("lift", "best_value"):
            if record[key] is not None:
                output.set_float_custom_property(key, record[key])
        output.set_string_custom_property("best_baseline", record["best_baseline"] or "")
        output.set_int_custom_property("passed", int(record["passed"] is not False))

    def _evaluate(self, eval_config: Any, baselines: list[Baseline], rows: SplitRows,
                  output_path: str, sliced_metrics: tuple[str, ...] = ()
                  ) -> list[dict[str, Any]]:
        """Each baseline's metrics per slice, by TFMA from the same EvalConfig as the model's
        metrics and slices: [{"slice": {...}, "metrics": {baseline: {metric: value}}}]. With
        `sliced_metrics` (TFMA class names), slices other than overall get only those: TFMA's
        time grows with rows x slices x metrics, and two passes (every metric overall, those
        on every slice) cost a third of one pass with every metric on every slice."""
        fitted = {b.name for b in baselines}
        passes = _passes(eval_config, fitted, sliced_metrics)
        label_key = eval_config.model_specs[0].label_key
        batch = record_batch(label_key, rows, {b.name: b.predict(rows.features, rows.count)
                                               for b in baselines})
        with self._make_beam_pipeline() as pipeline:
            evaluated = pipeline | "Rows" >> beam.Create([batch])
            for part, config in passes.items():
                _ = evaluated | f"Evaluate-{part}" >> tfma.ExtractEvaluateAndWriteResults(
                    eval_config=config, output_path=os.path.join(output_path, part))
        slices: dict[str, dict[str, Any]] = {}
        for part in passes:  # the overall pass last: its metrics are the overall slice's
            with quiet_tensorflow_warnings():
                records = list(tfma.load_metrics(os.path.join(output_path, part)))
            for record in records:
                if record.WhichOneof("slicing_spec_oneof") == "cross_slice_key":
                    continue
                key = slice_dict(record.slice_key)
                slices[json.dumps(key, sort_keys=True)] = {
                    "slice": key,
                    "metrics": {name: per_model(record, name) for name in sorted(fitted)}}
        return list(slices.values())

    @staticmethod
    def _judge(settings: BaselineSettings, input_dict: dict[str, list[types.Artifact]],
               baselines: list[Baseline], slices: list[dict[str, Any]]) -> dict[str, Any]:
        evaluation = artifact_utils.get_single_instance(input_dict["model_evaluation"])
        model_rows = read_metrics(evaluation.uri)
        model_value = model_rows[0].candidate.get(settings.metric) if model_rows else None
        overall = next((s["metrics"] for s in slices if not s["slice"]), {})
        verdict = lift_verdict(model_value,
                               {n: m.get(settings.metric) for n, m in overall.items()
                                if not settings.gated or n in settings.gated},
                               settings.higher_is_better, settings.min_lift)
        slices.sort(key=lambda s: (len(s["slice"]), sorted((k, str(v))
                                                           for k, v in s["slice"].items())))
        return {"metric": settings.metric, "higher_is_better": settings.higher_is_better,
                "min_lift": settings.min_lift, "gated": sorted(settings.gated or overall),
                "model_value": model_value, **verdict,
                "baselines": {b.name: b.description for b in baselines}, "slices": slices}

    @staticmethod
    def _bless(input_dict: dict[str, list[types.Artifact]],
               output_dict: dict[str, list[types.Artifact]], record: dict[str, Any]) -> None:
        """The Evaluator's blessing, and the lift gate's: blessed only when both pass."""
        evaluator = artifact_utils.get_single_instance(input_dict["model_blessing"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        for key, value in evaluator.mlmd_artifact.custom_properties.items():
            blessing.mlmd_artifact.custom_properties[key].CopyFrom(value)
        record["evaluator_blessed"] = bool(model_utils.is_model_blessed(evaluator))
        blessed = record["evaluator_blessed"] and record["passed"] is not False
        record["blessed"] = blessed
        blessing.set_int_custom_property("blessed", int(blessed))
        blessing.set_int_custom_property("evaluator_blessed", int(record["evaluator_blessed"]))
        fileio.makedirs(blessing.uri)
        with fileio.open(os.path.join(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED"),
                         "w") as handle:
            handle.write("")
        logging.info("Naive baselines: lift %s over %s on %s; blessed %s", record["lift"],
                     record["best_baseline"], record["metric"], blessed)


def _passes(eval_config: Any, fitted: set[str], sliced_metrics: tuple[str, ...]
            ) -> dict[str, Any]:
    """The EvalConfigs of the fitted baselines: one with every metric on every slice, or, with
    `sliced_metrics`, those on every slice ("sliced") and every metric overall ("overall")."""
    config = tfma.EvalConfig()
    config.CopyFrom(eval_config)
    del config.model_specs[:]
    config.model_specs.extend(s for s in eval_config.model_specs if s.name in fitted)
    if not sliced_metrics:
        return {"all": config}
    overall = tfma.EvalConfig()
    overall.CopyFrom(config)
    del overall.slicing_specs[:]
    overall.slicing_specs.add()
    for spec in config.metrics_specs:
        kept = [m for m in spec.metrics if m.class_name in sliced_metrics]
        del spec.metrics[:]
        spec.metrics.extend(kept)
    return {"sliced": config, "overall": overall}


def per_model(record: Any, model_name: str) -> dict[str, float | None]:
    """One model's scalar metrics of a slice's record (read as every TFMA evaluation is)."""
    rows = metrics_of_records([_only_model(record, model_name)], baselines=())
    return rows[0].candidate if rows else {}


def _only_model(record: Any, model_name: str) -> Any:
    copy = type(record)()
    copy.CopyFrom(record)
    del copy.metric_keys_and_values[:]
    copy.metric_keys_and_values.extend(e for e in record.metric_keys_and_values
                                       if e.key.model_name == model_name)
    return copy


def record_batch(label_key: str, rows: SplitRows, predictions: dict[str, np.ndarray]
                 ) -> pa.RecordBatch:
    """The label, each baseline's predictions and the raw slice columns, one list per row."""
    label_type = pa.float32() if rows.label.dtype.kind == "f" else pa.int64()
    arrays = {label_key: _lists(rows.label.reshape(-1, 1), label_type)}
    for name, values in predictions.items():
        arrays[name] = _lists(values.reshape(len(values), -1), pa.float32())
    arrays.update(rows.slices)
    return pa.RecordBatch.from_arrays(list(arrays.values()), list(arrays))


def _lists(values: np.ndarray, value_type: pa.DataType) -> pa.Array:
    width = values.shape[1]
    offsets = pa.array(np.arange(0, values.size + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), value_type))
