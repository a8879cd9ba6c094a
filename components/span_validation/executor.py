"""SpanValidation executor: every span's statistics in one Beam job, then each span's gates.

The Beam job reads and decodes every split of every span (and of the baseline span) once, adds
the label, batches the records by (span, split), and runs TFDV twice over the batches:
- by span and split, with no schema: what StatisticsGen computes for each split;
- by span, with the curated schema plus the label as the model sees it: what DataDrift
  compares between a span and the previous one.
Then, oldest span first: ExampleValidator's check (`tfdv.validate_statistics` per split,
written as `SchemaDiff.pb`), DataDrift's report against the previous span, and DataGate's
verdict, each through the same functions those components use. The first span that does not
pass is the last one validated.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, writer_utils

from components.data_drift import compare
from components.data_drift.executor import DecodeWithLabel
from components.data_drift.params import LabelSpec, MinimumExamples
from components.data_drift.report import NO_SPAN, Compared, write_report
from components.data_drift.sliced import (
    Stats,
    parts_of_files,
    read_part_batches,
    read_statistics,
    write_statistics,
)
from components.data_gate.executor import (
    ANOMALIES_FILE,
    STATISTICS_FILE,
    collect_rows,
    record_verdict,
)
from components.data_gate.params import GateRules
from components.shared.artifacts import span_of
from components.shared.params import decode

BASELINE = "baseline"
OUTPUT_KEYS = ("statistics", "anomalies", "report", "result")
LABEL_KEY = "label"
RULES_KEY = "rules"
MINIMUM_KEY = "minimum_examples"
CODE_FINGERPRINT_KEY = "code_fingerprint"


def _without(part: tuple[str, ...], record_batch, column: str = ""):
    """(part, the batch without `column`): a split's statistics as StatisticsGen computes them
    (no label), from the batch decoded once for both statistics."""
    import pyarrow as pa

    names = record_batch.schema.names
    kept = [i for i, name in enumerate(names) if name != column]
    return part, pa.RecordBatch.from_arrays([record_batch.column(i) for i in kept],
                                            [names[i] for i in kept])


def _spans(part: tuple[str, ...]) -> tuple[str, ...]:
    """The datasets ("<dataset>") of a part of "<dataset>/<split>" keys."""
    return tuple(sorted({key.split("/")[0] for key in part}))


@dataclass(frozen=True)
class _Rules:
    """What every span is judged by in one execution."""

    schema: Any  # the curated Schema proto
    schema_uri: str
    extended: Any  # the schema plus the label, as DataDrift compares
    label_feature: str
    label: LabelSpec
    gate: GateRules
    minimum: MinimumExamples


@dataclass(frozen=True)
class _Before:
    """What a span is compared with: the span before it, its statistics, and (for a multiclass
    label) every class of the spans before it, carried along the batch."""

    examples: types.Artifact | None
    stats: Stats | None
    classes: tuple[str, ...] | None = None

    def then(self, examples: types.Artifact | None, stats: Stats | None, rules: _Rules
             ) -> _Before:
        """The comparison for the next span: `examples` (with `stats`) was validated; with no
        examples, this one's own classes are taken in (the batch's starting point)."""
        if rules.label.kind != "multiclass":
            return _Before(examples or self.examples, stats or self.stats)
        seen = set(self.classes or ())
        for source in (self.stats, stats):
            if source is not None:
                seen |= set(compare.counts(source, rules.label_feature))
        return _Before(examples or self.examples, stats or self.stats,
                       tuple(sorted(seen)) if seen else None)


def _split_key(dataset: str, split: str) -> str:
    return f"{dataset}/{split}"


def _split_files(datasets: dict[str, types.Artifact]) -> dict[str, tuple[str, ...]]:
    """{split files (`<split folder>/*`): (the key of their batches,)}: "<dataset>/<split>"."""
    patterns = {}
    for name, examples in datasets.items():
        for split in artifact_utils.decode_split_names(examples.split_names):
            folder = artifact_utils.get_split_uri([examples], split)
            patterns[os.path.join(folder, "*")] = (_split_key(name, split),)
    return patterns


def _child(original: types.Artifact, span: int) -> types.Artifact:
    """An output artifact of one span: a `span-<N>` folder of the system-generated URI (what
    TFX requires of an executor that publishes several artifacts under one key)."""
    artifact = type(original)()
    artifact.uri = os.path.join(original.uri, f"span-{span}")
    return artifact


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        spans = sorted(input_dict["examples"], key=span_of)
        if len({span_of(e) for e in spans}) != len(spans):
            raise ValueError(f"SpanValidation takes one Examples artifact per span, got spans "
                             f"{[span_of(e) for e in spans]}")
        baselines = [b for b in input_dict.get("baseline_examples") or []
                     if span_of(b) < span_of(spans[0])]
        baseline = max(baselines, key=span_of) if baselines else None
        schema_uri = artifact_utils.get_single_uri(input_dict["schema"])
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
        label = decode(exec_properties[LABEL_KEY], LabelSpec)
        extended, label_feature = compare.comparison_schema(schema, label)
        rules = _Rules(schema, schema_uri, extended, label_feature, label,
                       decode(exec_properties.get(RULES_KEY), GateRules, GateRules()),
                       decode(exec_properties.get(MINIMUM_KEY), MinimumExamples,
                              MinimumExamples()))
        datasets = {str(i): examples for i, examples in enumerate(spans)}
        if baseline is not None:
            datasets[BASELINE] = baseline
        with tempfile.TemporaryDirectory(prefix="span_validation-") as scratch:
            by_split, labelled = self._statistics(_split_files(datasets), scratch, rules)
        first = _Before(baseline, labelled.get(BASELINE))
        outputs = self._validate_in_order(spans, first.then(None, None, rules), by_split,
                                          labelled, output_dict, rules)
        if not outputs["result"]:
            raise RuntimeError("SpanValidation validated no span: the first span has an empty "
                               "split")
        for key in OUTPUT_KEYS:
            output_dict[key][:] = outputs[key]

    def _validate_in_order(self, spans: list[types.Artifact], before: _Before,
                           by_split: dict[str, Stats], labelled: dict[str, Stats],
                           output_dict: dict[str, list[types.Artifact]], rules: _Rules
                           ) -> dict[str, list[types.Artifact]]:
        """Validates the spans oldest first, each against the one before it (the first against
        `before`), until one does not pass; the output artifacts of those validated."""
        outputs: dict[str, list[types.Artifact]] = {key: [] for key in OUTPUT_KEYS}
        for name, examples in ((str(i), e) for i, e in enumerate(spans)):
            splits = artifact_utils.decode_split_names(examples.split_names)
            if name not in labelled or any(_split_key(name, s) not in by_split for s in splits):
                logging.warning("SpanValidation: span %d has an empty split; it and the spans "
                                "after it are left to the per-span gates.", span_of(examples))
                break
            artifacts = {key: _child(output_dict[key][0], span_of(examples))
                         for key in OUTPUT_KEYS}
            passed = self._validate_span(
                examples, artifacts, {s: by_split[_split_key(name, s)] for s in splits},
                labelled[name], before, rules)
            for key in OUTPUT_KEYS:
                outputs[key].append(artifacts[key])
            if not passed:
                break
            before = before.then(examples, labelled[name], rules)
        return outputs

    def _statistics(self, patterns: dict[str, tuple[str, ...]], scratch: str, rules: _Rules
                    ) -> tuple[dict[str, Stats], dict[str, Stats]]:
        """One Beam job: statistics by "<dataset>/<split>" (no schema, as StatisticsGen) and
        by "<dataset>" (curated schema plus the label, as DataDrift)."""
        import tensorflow_data_validation as tfdv

        paths = {kind: os.path.join(scratch, f"{kind}.pb") for kind in ("splits", "labelled")}
        with self._make_beam_pipeline() as pipeline:
            # Types come from the data (no schema), as StatisticsGen's reader infers them.
            batches = (read_part_batches(pipeline, parts_of_files(patterns))
                       | "DecodeWithLabel" >> beam.ParDo(DecodeWithLabel(
                           rules.label, rules.schema.SerializeToString(), rules.label_feature)))
            _ = write_statistics(
                batches
                | "SpansOnly" >> beam.Filter(
                    lambda kv: not kv[0][0].startswith(BASELINE + "/"))
                | "WithoutLabel" >> beam.MapTuple(_without, column=rules.label_feature),
                tfdv.StatsOptions(), paths["splits"], "Splits")
            _ = write_statistics(
                batches | "BySpan" >> beam.MapTuple(lambda part, rb: (_spans(part), rb)),
                tfdv.StatsOptions(schema=rules.extended), paths["labelled"], "Labelled")
        return read_statistics(paths["splits"]), read_statistics(paths["labelled"])

    def _validate_span(self, examples: types.Artifact, artifacts: dict[str, types.Artifact],
                       split_stats: dict[str, Stats], labelled: Stats, before: _Before,
                       rules: _Rules) -> bool:
        """Writes one span's statistics, anomalies, drift report and verdict; True if passed."""
        import tensorflow_data_validation as tfdv

        span = span_of(examples)
        split_names = artifact_utils.encode_split_names(list(split_stats))
        statistics, anomalies = artifacts["statistics"], artifacts["anomalies"]
        for artifact in (statistics, anomalies):
            artifact.split_names = split_names
            artifact.span = span
        blessed = {}
        for split, stats in split_stats.items():
            split_uri = os.path.join(statistics.uri, f"Split-{split}")
            io_utils.write_bytes_file(os.path.join(split_uri, STATISTICS_FILE),
                                      stats.SerializeToString())
            found = tfdv.validate_statistics(statistics=stats, schema=rules.schema)
            writer_utils.write_anomalies(
                os.path.join(anomalies.uri, f"Split-{split}", ANOMALIES_FILE), found)
            blessed[split] = int(not (found.anomaly_info or
                                      found.HasField("dataset_anomaly_info")))
        anomalies.set_json_value_custom_property("blessed", blessed)

        report = artifacts["report"]
        compared = {"span": labelled}
        if before.examples is not None and before.stats is not None:
            compared["previous_span"] = before.stats
        write_report(report, compared, Compared(
            rules.extended, rules.label_feature, rules.label, span,
            span_of(before.examples) if "previous_span" in compared else NO_SPAN,
            minimum=rules.minimum, known_classes=before.classes))
        report.set_int_custom_property("examples_id", examples.id or 0)

        rows = collect_rows(anomalies, report.uri, statistics.uri, rules.schema_uri,
                            frozenset(rules.gate.report_only))
        halting = record_verdict(artifacts["result"], rows, examples, rules.gate.validation_key)
        logging.info("SpanValidation: span %d %s (%d anomalies, %d halting).", span,
                     "passed" if not halting else "FAILED", len(rows), len(halting))
        return not halting
