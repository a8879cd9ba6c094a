"""BaselineScores' executor: fit the naive baselines on train and evaluate them with TFMA on
eval, on the model's slices; write their metrics per slice (the lift gate judges them later).
TFMA's metric computations run in this process, vectorised over each slice's rows, where each
combiner has a closed form (`vectorised.py`: every binary metric here, the regression errors);
TFMA's Beam pipeline runs a pass with any other metric.

It needs the trained model (its transform signature) and the examples, not the model's own
evaluation: it runs beside the Evaluator, on the other core where the graph allows."""

from __future__ import annotations

import json
import os
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components.naive_baselines import vectorised
from components.naive_baselines.fit import Baseline, fit_baselines
from components.naive_baselines.params import ScoreSettings
from components.naive_baselines.rows import SplitRows, read_split
from components.shared.artifacts import NaiveBaselineScores, read_json, write_json
from components.shared.model_contract import OUTPUTS, TRAINING_SUMMARY
from components.shared.params import decode
from components.shared.quiet import quiet_tensorflow_warnings
from components.shared.tfma_metrics import metrics_of_records, slice_dict

SETTINGS_KEY = "settings"
CODE_FINGERPRINT_KEY = "code_fingerprint"
TFMA_DIR = "tfma"
TRAIN, EVAL = "train", "eval"
# Rows per element handed to TFMA: it unbatches each element into one dict per row, so one
# element of every eval row held them all in memory at once. Taken, not sliced: a slice of a
# RecordBatch pickles its whole buffers.
_CHUNK = 10_000


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        settings = decode(exec_properties[SETTINGS_KEY], ScoreSettings)
        eval_config = json_format.Parse(settings.eval_config, tfma.EvalConfig())
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        columns = sorted({k for spec in eval_config.slicing_specs for k in spec.feature_keys})
        train = read_split(examples, TRAIN, model.uri, [])
        evaluated = read_split(examples, EVAL, model.uri, columns)
        classes = ((read_json(model.uri, TRAINING_SUMMARY) or {}).get(OUTPUTS) or {}).get(
            "classes") or []
        baselines = fit_baselines(settings.kind, train.features, train.label, classes)
        output = artifact_utils.get_single_instance(output_dict["scores"])
        slices = self._evaluate(eval_config, baselines, evaluated,
                                os.path.join(output.uri, TFMA_DIR), settings.sliced_metrics)
        slices.sort(key=lambda s: (len(s["slice"]), sorted((k, str(v))
                                                           for k, v in s["slice"].items())))
        write_json(output.uri, NaiveBaselineScores.FILE, {
            "baselines": {b.name: b.description for b in baselines}, "slices": slices,
            "rows": {TRAIN: train.count, EVAL: evaluated.count}})

    def _evaluate(self, eval_config: Any, baselines: list[Baseline], rows: SplitRows,
                  output_path: str, sliced_metrics: tuple[str, ...] = ()
                  ) -> list[dict[str, Any]]:
        """Each baseline's metrics per slice, by TFMA from the same EvalConfig as the model's
        metrics and slices: [{"slice": {...}, "metrics": {baseline: {metric: value}}}]. With
        `sliced_metrics` (TFMA class names), slices other than overall get only those: TFMA's
        time grows with rows x slices x metrics, and two passes (every metric overall, those
        on every slice) cost a third of one pass with every metric on every slice. A pass
        `vectorised` answers needs no Beam."""
        fitted = {b.name for b in baselines}
        passes = _passes(eval_config, fitted, sliced_metrics)
        predictions = {b.name: b.predict(rows.features, rows.count) for b in baselines}
        records = {part: vectorised.evaluate(config, rows.label, predictions, rows.slices)
                   for part, config in passes.items()}
        piped = {part: config for part, config in passes.items() if records[part] is None}
        if piped:
            batch = record_batch(eval_config.model_specs[0].label_key, rows, predictions)
            records.update(self._run_tfma(piped, batch, output_path))
        slices: dict[str, dict[str, Any]] = {}
        for part in passes:  # the overall pass last: its metrics are the overall slice's
            for record in records[part]:
                if record.WhichOneof("slicing_spec_oneof") == "cross_slice_key":
                    continue
                key = slice_dict(record.slice_key)
                slices[json.dumps(key, sort_keys=True)] = {
                    "slice": key,
                    "metrics": {name: per_model(record, name) for name in sorted(fitted)}}
        return list(slices.values())

    def _run_tfma(self, passes: dict[str, Any], batch: pa.RecordBatch, output_path: str
                  ) -> dict[str, list[Any]]:
        """TFMA's pipeline for each pass `vectorised` cannot answer: its MetricsForSlice."""
        chunks = [batch.take(pa.array(np.arange(start, min(start + _CHUNK, batch.num_rows))))
                  for start in range(0, batch.num_rows, _CHUNK)] or [batch]
        with self._make_beam_pipeline() as pipeline:
            evaluated = pipeline | "Rows" >> beam.Create(chunks, reshuffle=False)
            for part, config in passes.items():
                _ = evaluated | f"Evaluate-{part}" >> tfma.ExtractEvaluateAndWriteResults(
                    eval_config=config, output_path=os.path.join(output_path, part))
        with quiet_tensorflow_warnings():
            return {part: list(tfma.load_metrics(os.path.join(output_path, part)))
                    for part in passes}


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
