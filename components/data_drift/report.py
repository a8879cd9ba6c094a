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
from components.data_drift.params import LabelSpec, MinimumExamples
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
    "history": "Window-earlier-spans",
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
    minimum: MinimumExamples = MinimumExamples()
    # A multiclass label's classes seen before this span; None: those of the previous span and
    # of the window's earlier spans ("history"), from the statistics.
    known_classes: tuple[str, ...] | None = None


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
        if not compared.label.categorical:
            shift = compare.mean_shift(stats["span"], stats["previous_span"],
                                       compared.label_feature, compared.label.drift_threshold,
                                       (compared.span, compared.previous_span))
            drift = sorted([*drift, *([shift] if shift else [])],
                           key=lambda r: (not r["exceeded"], r["feature"]))
        drift = compare.judged(drift, stats["span"], stats["previous_span"],
                               compared.minimum.drift)
    skew: list[dict[str, Any]] = []
    if stats.get("train") and stats.get("eval"):
        skew = compare.skew_rows(stats["train"], stats["eval"], compared.extended,
                                 list(compared.window_spans), compared.minimum.skew)
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
    _record(report, compared, drift, skew, content["label"].get("new_classes") or {})
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
    if compared.label.kind == "multiclass":
        label.update(_classes(stats, compared))
    return label


def _classes(stats: dict[str, Stats | None], compared: Compared) -> dict[str, Any]:
    """The classes seen before this span, and the span's classes that are not among them."""
    feature = compared.label_feature
    known = set(compared.known_classes or ())
    if compared.known_classes is None:
        for dataset in ("previous_span", "history"):
            if stats.get(dataset):
                known |= set(compare.counts(stats[dataset], feature))
    if not known:
        return {}  # the first span: nothing to compare with
    span = compare.counts(stats["span"], feature) if stats.get("span") else {}
    return {"known_classes": sorted(known),
            "new_classes": {c: n for c, n in sorted(span.items()) if c not in known}}


def _record(report: types.Artifact, compared: Compared, drift: list[dict[str, Any]],
            skew: list[dict[str, Any]], new_classes: dict[str, int]) -> None:
    """Custom properties: every measurement, so that values can be trended across spans."""
    report.set_int_custom_property("span", compared.span)
    report.set_int_custom_property("previous_span", compared.previous_span)
    report.set_int_custom_property("drift_exceeded",
                                   sum(r["exceeded"] and r.get("judged", True) for r in drift))
    report.set_int_custom_property("skew_exceeded",
                                   sum(r["exceeded"] and r["judged"] for r in skew))
    report.set_int_custom_property("new_label_classes", len(new_classes))
    for row in drift:
        report.set_float_custom_property(f"drift:{row['feature']}", row["value"])
    for row in skew:
        report.set_float_custom_property(f"skew:{row['feature']}", row["value"])
    logging.info("Drift report of span %d vs %s: %d drift and %d skew measurements, "
                 "%d exceeded.", compared.span, compared.previous_span, len(drift), len(skew),
                 sum(r["exceeded"] for r in drift + skew))
