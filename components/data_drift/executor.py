"""DataDrift executor: statistics of the span, its predecessor and the window's splits, compared.

One Beam pipeline computes TFDV statistics of each dataset to compare (with the model's label
added as a column; the datasets as slices of one TFDV pass), then TFDV's comparators measure
drift and skew. Everything measured is written to `drift.json` and to the report's custom
properties, whether a threshold is exceeded or not, so that values can be trended across spans.
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
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.data_drift import compare, labels
from components.data_drift.params import LabelSpec, MinimumExamples
from components.data_drift.report import NO_SPAN, REPORT_FILE, Compared, write_report
from components.data_drift.sliced import (
    read_keyed_batches,
    read_sliced_statistics,
    write_sliced_statistics,
)
from components.shared.artifacts import span_of
from components.shared.params import decode

__all__ = ["REPORT_FILE", "DecodeWithLabel", "Executor"]

LABEL_KEY = "label"
MINIMUM_KEY = "minimum_examples"
CODE_FINGERPRINT_KEY = "code_fingerprint"


def _patterns(artifacts: list[types.Artifact], split: str | None = None) -> list[str]:
    """The files of `artifacts`' splits (`<split folder>/*`): of `split`, or of every split."""
    patterns = []
    for artifact in artifacts:
        splits = [split] if split else artifact_utils.decode_split_names(artifact.split_names)
        patterns += [os.path.join(artifact_utils.get_split_uri([artifact], name), "*")
                     for name in splits]
    return patterns


class DecodeWithLabel(beam.DoFn):
    """Serialized tf.Examples -> an Arrow RecordBatch of their features plus the label.

    With `keyed`, elements are (key, batch) and the output (key, RecordBatch).
    """

    def __init__(self, label: LabelSpec, schema: bytes, label_feature: str,
                 keyed: bool = False):
        self._label = label
        self._schema_bytes = schema
        self._label_feature = label_feature
        self._keyed = keyed

    def setup(self):
        from tfx_bsl.coders import example_coder

        # Types come from the data, not the schema: a wrongly typed span must still be
        # compared (and reported by the gate), not crash the decoder.
        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        self._schema = schema_pb2.Schema.FromString(self._schema_bytes)
        self._function = labels.label_function(self._label)

    def process(self, element):
        key, batch = element if self._keyed else (None, element)
        record_batch = self._with_label(batch)
        yield (key, record_batch) if self._keyed else record_batch

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
        datasets = _datasets(examples, baseline, window, label)
        patterns: dict[str, tuple[str, ...]] = {}
        for name, dataset_patterns in datasets.items():
            for pattern in dataset_patterns:
                patterns[pattern] = (*patterns.get(pattern, ()), name)

        with tempfile.TemporaryDirectory(prefix="data_drift-") as scratch:
            path = os.path.join(scratch, "labelled.pb")
            with self._make_beam_pipeline() as pipeline:
                _ = write_sliced_statistics(
                    read_keyed_batches(pipeline, patterns)
                    | "DecodeWithLabel" >> beam.ParDo(DecodeWithLabel(
                        label, schema.SerializeToString(), label_feature, keyed=True)),
                    tfdv.StatsOptions(schema=extended), path, "Labelled")
            stats = read_sliced_statistics(path)
        window_spans = [s for w in window for s in (
            json.loads(w.get_string_custom_property("window_spans"))
            if w.has_custom_property("window_spans") else [span_of(w)])]
        write_report(report, {name: stats.get(name) for name in datasets}, Compared(
            extended, label_feature, label, span_of(examples),
            span_of(baseline) if baseline is not None else NO_SPAN, tuple(window_spans),
            decode(exec_properties.get(MINIMUM_KEY), MinimumExamples, MinimumExamples())))
        report.set_int_custom_property("examples_id", examples.id or 0)


def _datasets(examples: types.Artifact, baseline: types.Artifact | None,
              window: list[types.Artifact], label: LabelSpec) -> dict[str, list[str]]:
    """{dataset: file patterns}: the span, the previous span, the window's train and eval
    splits, and (for classes) the window's earlier spans, whose classes the label may use."""
    datasets = {"span": _patterns([examples])}
    if baseline is not None:
        datasets["previous_span"] = _patterns([baseline])
    if window:
        datasets["train"] = _patterns(window, "train")
        datasets["eval"] = _patterns(window, "eval")
        if label.kind == "multiclass":
            # SpanWindow names each file span-<N>-...: the files of the spans before this one.
            own = f"span-{span_of(examples)}-"
            history = [path for pattern in _patterns(window) for path in fileio.glob(pattern)
                       if os.path.basename(path).startswith("span-")
                       and not os.path.basename(path).startswith(own)]
            if history:
                datasets["history"] = history
    return datasets


def _baseline(examples: types.Artifact, baselines: list[types.Artifact]
              ) -> types.Artifact | None:
    """The newest of `baselines` that is an older span than `examples`."""
    older = [b for b in baselines if b.id != examples.id and span_of(b) < span_of(examples)]
    return max(older, key=span_of) if older else None
