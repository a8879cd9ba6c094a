"""The drift report of one span: every measurement, written to `drift.json` and to the report
artifact's custom properties, whether a threshold is exceeded or not (so values can be trended).

Shared by DataDrift (one span per execution) and SpanValidation (many spans in one execution).
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.utils import io_utils

from components.data_drift import compare, labels
from components.data_drift.sliced import Stats

REPORT_FILE = "drift.json"
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


def write_report(report: types.Artifact, stats: dict[str, Stats | None],
                 extended: schema_pb2.Schema, label_feature: str, label_config: dict[str, Any],
                 threshold: float, span: int, previous_span: int, window_spans: list[int],
                 skew_min_examples: int) -> dict[str, Any]:
    """Measures drift (`span` vs `previous_span`) and skew (`train` vs `eval`) from the label-
    extended statistics in `stats`; writes those statistics (in `DATASETS` folders),
    `drift.json` and the custom properties."""
    for dataset, statistics in stats.items():
        if statistics is not None:
            io_utils.write_bytes_file(statistics_path(report.uri, dataset),
                                      statistics.SerializeToString())
    drift: list[dict[str, Any]] = []
    if stats.get("span") and stats.get("previous_span"):
        drift = compare.drift_rows(stats["span"], stats["previous_span"], extended, span,
                                   previous_span)
    skew: list[dict[str, Any]] = []
    if stats.get("train") and stats.get("eval"):
        skew = compare.skew_rows(stats["train"], stats["eval"], extended, window_spans,
                                 skew_min_examples)

    label = {
        "feature": label_feature,
        "rule": labels.rule_text(label_config),
        "threshold": threshold,
    }
    if labels.is_categorical(label_config):
        label["span_distribution"] = compare.distribution(stats["span"], label_feature) \
            if stats.get("span") else {}
        if stats.get("previous_span"):
            label["previous_distribution"] = compare.distribution(stats["previous_span"],
                                                                  label_feature)
    content = {
        "window_examples": {split: int(stats[split].datasets[0].num_examples)
                            for split in ("train", "eval") if stats.get(split)},
        "span": span,
        "previous_span": None if previous_span == NO_SPAN else previous_span,
        "window_spans": window_spans,
        "label": label,
        "drift": drift,
        "skew": skew,
    }
    io_utils.write_string_file(os.path.join(report.uri, REPORT_FILE),
                               json.dumps(content, indent=2, sort_keys=True))
    report.set_int_custom_property("span", span)
    report.set_int_custom_property("previous_span", previous_span)
    report.set_int_custom_property("drift_exceeded", sum(r["exceeded"] for r in drift))
    report.set_int_custom_property("skew_exceeded",
                                   sum(r["exceeded"] and r["judged"] for r in skew))
    for row in drift:
        report.set_float_custom_property(f"drift:{row['feature']}", row["value"])
    for row in skew:
        report.set_float_custom_property(f"skew:{row['feature']}", row["value"])
    logging.info("Drift report of span %d vs %s: %d drift and %d skew measurements, "
                 "%d exceeded.", span, content["previous_span"], len(drift), len(skew),
                 sum(r["exceeded"] for r in drift + skew))
    return content
