"""The drift report of one span: every measurement, written to `drift.json` and to the report
artifact's custom properties, whether a threshold is exceeded or not (so values can be trended).

Shared by DataDrift (one span per execution) and SpanValidation (many spans in one execution).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.utils import io_utils

from components.data_drift import compare
from components.data_drift.params import LabelSpec
from components.data_drift.sliced import Stats
from components.shared.artifacts import DataDriftReport
from components.shared.files import to_json

REPORT_FILE = DataDriftReport.FILE
STATISTICS_FILE = "FeatureStats.pb"
# Folders of the report artifact holding the statistics that were compared.
DATASETS = {
    "span": "Span",
    "previous_span": "PreviousSpan",
    "train": "Window-train",
    "eval": "Window-eval",
}
NO_SPAN = -1


def statistics_path(report_uri: str, dataset: str) -> str:
    return os.path.join(report_uri, DATASETS[dataset], STATISTICS_FILE)


@dataclass(frozen=True)
class Compared:
    """What one report compares: the label-extended schema, the label, and which spans."""

    extended: schema_pb2.Schema      # the schema plus the label (compare.comparison_schema)
    label_feature: str
    label: LabelSpec
    span: int
    previous_span: int = NO_SPAN
    window_spans: tuple[int, ...] = ()
    skew_min_examples: int = 0


def write_report(report: types.Artifact, stats: dict[str, Stats | None], compared: Compared
                 ) -> dict[str, Any]:
    """Measures drift (`span` vs `previous_span`) and skew (`train` vs `eval`) from the label-
    extended statistics in `stats`; writes those statistics (in `DATASETS` folders),
    `drift.json` and the custom properties."""
    for dataset, statistics in stats.items():
        if statistics is not None:
            io_utils.write_bytes_file(statistics_path(report.uri, dataset),
                                      statistics.SerializeToString())
    drift: list[dict[str, Any]] = []
    if stats.get("span") and stats.get("previous_span"):
        drift = compare.drift_rows(stats["span"], stats["previous_span"], compared.extended,
                                   compared.span, compared.previous_span)
    skew: list[dict[str, Any]] = []
    if stats.get("train") and stats.get("eval"):
        skew = compare.skew_rows(stats["train"], stats["eval"], compared.extended,
                                 list(compared.window_spans), compared.skew_min_examples)
    content = {
        "window_examples": {split: int(stats[split].datasets[0].num_examples)
                            for split in ("train", "eval") if stats.get(split)},
        "span": compared.span,
        "previous_span": None if compared.previous_span == NO_SPAN else compared.previous_span,
        "window_spans": list(compared.window_spans),
        "label": _label_section(stats, compared),
        "drift": drift,
        "skew": skew,
    }
    io_utils.write_string_file(os.path.join(report.uri, REPORT_FILE), to_json(content))
    _record(report, compared, drift, skew)
    return content


def _label_section(stats: dict[str, Stats | None], compared: Compared) -> dict[str, Any]:
    """How the label reads, its threshold, and (for classes) its distribution in both spans."""
    label = {"feature": compared.label_feature, "rule": compared.label.rule,
             "threshold": compared.label.drift_threshold}
    if compared.label.categorical:
        label["span_distribution"] = compare.distribution(
            stats["span"], compared.label_feature) if stats.get("span") else {}
        if stats.get("previous_span"):
            label["previous_distribution"] = compare.distribution(stats["previous_span"],
                                                                  compared.label_feature)
    return label


def _record(report: types.Artifact, compared: Compared, drift: list[dict[str, Any]],
            skew: list[dict[str, Any]]) -> None:
    """Custom properties: every measurement, so that values can be trended across spans."""
    report.set_int_custom_property("span", compared.span)
    report.set_int_custom_property("previous_span", compared.previous_span)
    report.set_int_custom_property("drift_exceeded", sum(r["exceeded"] for r in drift))
    report.set_int_custom_property("skew_exceeded",
                                   sum(r["exceeded"] and r["judged"] for r in skew))
    for row in drift:
        report.set_float_custom_property(f"drift:{row['feature']}", row["value"])
    for row in skew:
        report.set_float_custom_property(f"skew:{row['feature']}", row["value"])
    logging.info("Drift report of span %d vs %s: %d drift and %d skew measurements, "
                 "%d exceeded.", compared.span, compared.previous_span, len(drift), len(skew),
                 sum(r["exceeded"] for r in drift + skew))
