"""DataDrift executor: statistics of the span, its predecessor and the window's splits, compared.

One Beam pipeline computes TFDV statistics of each dataset to compare (with the model's label
added as a column; each record read, decoded, labelled and summarised once, whichever datasets
it belongs to: `datasets.py`, `sliced.py`), then TFDV's comparators measure drift and skew.
Everything measured is written to `drift.json` and to the report's custom properties, whether a
threshold is exceeded or not, so that values can be trended across spans.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import apache_beam as beam
import pyarrow as pa
from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.data_drift import compare, datasets, labels
from components.data_drift.params import LabelSpec, MinimumExamples
from components.data_drift.report import NO_SPAN, REPORT_FILE, Compared, write_report
from components.data_drift.sliced import read_part_batches, read_statistics, write_statistics
from components.shared.artifacts import span_of
from components.shared.params import decode

__all__ = ["REPORT_FILE", "DecodeWithLabel", "Executor"]

LABEL_KEY = "label"
MINIMUM_KEY = "minimum_examples"
CODE_FINGERPRINT_KEY = "code_fingerprint"


class DecodeWithLabel(beam.DoFn):
    """(key, serialized tf.Examples) -> (key, an Arrow RecordBatch of their features plus the
    label)."""

    def __init__(self, label: LabelSpec, schema: bytes, label_feature: str):
        self._label = label
        self._schema_bytes = schema
        self._label_feature = label_feature

    def setup(self):
        from tfx_bsl.coders import example_coder

        # Types come from the data, not the schema: a wrongly typed span must still be
        # compared (and reported by the gate), not crash the decoder.
        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        self._schema = schema_pb2.Schema.FromString(self._schema_bytes)
        self._function = labels.label_function(self._label)

    def process(self, element):
        key, batch = element
        yield key, self._with_label(batch)

    def _with_label(self, batch: list[bytes]) -> pa.RecordBatch:
        record_batch = self._decoder.DecodeBatch(batch)
        try:
            values = labels.label_values(batch, self._label, self._schema, self._function)
        except Exception as error:  # a label source of the wrong type: the gate reports that
            logging.warning("DataDrift: no label for a batch of %d examples: %s",
                            len(batch), error)
            return record_batch
        if self._label.categorical:
            column = pa.array([None if v is None else [v.encode("utf-8")] for v in values],
                              type=pa.large_list(pa.large_binary()))
        else:
            column = pa.array([None if v is None else [v] for v in values],
                              type=pa.large_list(pa.float32()))
        return pa.RecordBatch.from_arrays(
            [*record_batch.columns, column], [*record_batch.schema.names, self._label_feature])


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        import tensorflow_data_validation as tfdv

        examples = artifact_utils.get_single_instance(input_dict["examples"])
        window = sorted(input_dict.get("window_examples") or [], key=span_of)
        report = artifact_utils.get_single_instance(output_dict["report"])
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
            artifact_utils.get_single_uri(input_dict["schema"])))
        label = decode(exec_properties[LABEL_KEY], LabelSpec)
        extended, label_feature = compare.comparison_schema(schema, label)
        baseline = _baseline(examples, input_dict.get("baseline_examples") or [])
        found = datasets.datasets(examples, baseline, window, label)
        parts = datasets.file_parts(found, window, [examples, *([baseline] if baseline else [])])

        with tempfile.TemporaryDirectory(prefix="data_drift-") as scratch:
            path = os.path.join(scratch, "labelled.pb")
            with self._make_beam_pipeline() as pipeline:
                _ = write_statistics(
                    read_part_batches(pipeline, parts)
                    | "DecodeWithLabel" >> beam.ParDo(DecodeWithLabel(
                        label, schema.SerializeToString(), label_feature)),
                    tfdv.StatsOptions(schema=extended), path, "Labelled")
            stats = read_statistics(path)
        window_spans = [s for w in window for s in (
            json.loads(w.get_string_custom_property("window_spans"))
            if w.has_custom_property("window_spans") else [span_of(w)])]
        write_report(report, {name: stats.get(name) for name in found}, Compared(
            extended, label_feature, label, span_of(examples),
            span_of(baseline) if baseline is not None else NO_SPAN, tuple(window_spans),
            decode(exec_properties.get(MINIMUM_KEY), MinimumExamples, MinimumExamples())))
        report.set_int_custom_property("examples_id", examples.id or 0)


def _baseline(examples: types.Artifact, baselines: list[types.Artifact]
              ) -> types.Artifact | None:
    """The newest of `baselines` that is an older span than `examples`."""
    older = [b for b in baselines if b.id != examples.id and span_of(b) < span_of(examples)]
    return max(older, key=span_of) if older else None
