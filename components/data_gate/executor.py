"""DataGate executor: turns validation results into one anomaly table and a verdict.

Rows come from ExampleValidator's Anomalies protos (per split, against the curated schema) and
from DataDrift's exceeded thresholds (drift against the previous span, skew between train and
eval). Each row says what the data showed ("observed") and what was allowed ("threshold").
"""

from __future__ import annotations

import json
import os
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.data_gate import measures
from components.data_gate.params import GateRules
from components.shared.artifacts import DataDriftReport, DataValidationResult
from components.shared.files import to_json
from components.shared.params import decode

ANOMALIES_FILE = "SchemaDiff.pb"
RESULT_FILE = DataValidationResult.FILE
STATISTICS_FILE = "FeatureStats.pb"
RULES_KEY = "rules"
NEW_LABEL_CLASS = "LABEL_NEW_CLASS"
EMPTY_SPLIT = "EMPTY_SPLIT"
CODE_FINGERPRINT_KEY = "code_fingerprint"
# The anomaly kinds TFDV reports when a comparator's threshold is exceeded.
COMPARATOR_KINDS = {
    "infinity_norm": "COMPARATOR_L_INFTY_HIGH",
    "jensen_shannon_divergence": "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
    "normalized_abs_difference": "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH",
    "mean_shift": "LABEL_MEAN_SHIFT_HIGH",
}
HALT = "halt"
REPORT = "report"


class DataValidationError(RuntimeError):
    """Raised to halt the pipeline; its message starts with the number of anomalies found."""


def read_anomalies(uri: str, split_names: str) -> list[dict[str, str]]:
    """One row per (split, feature, anomaly reason) of an ExampleAnomalies artifact."""
    rows = []
    for split in artifact_utils.decode_split_names(split_names):
        path = os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(anomalies.anomaly_info.items()):
            rows += _rows(split, feature, info)
        if anomalies.HasField("dataset_anomaly_info"):
            rows += _rows(split, "(dataset)", anomalies.dataset_anomaly_info)
    return rows


def _rows(split: str, feature: str, info: anomalies_pb2.AnomalyInfo) -> list[dict[str, str]]:
    reasons = list(info.reason) or [None]
    return [
        {
            "split": split,
            "feature": feature,
            "kind": anomalies_pb2.AnomalyInfo.Type.Name(r.type) if r else "UNKNOWN",
            "short": r.short_description if r else info.short_description,
            "description": r.description if r else info.description,
            "observed": "-",
            "threshold": "-",
        }
        for r in reasons
    ]


def read_split_statistics(uri: str, split: str
                          ) -> statistics_pb2.DatasetFeatureStatisticsList | None:
    path = os.path.join(uri, f"Split-{split}", STATISTICS_FILE)
    if not os.path.isfile(path):
        return None
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString(io_utils.read_bytes_file(path))
    return stats


def read_schema(uri: str):
    return io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(uri))


def drift_rows(drift_uri: str) -> list[dict[str, Any]]:
    """Anomaly rows for DataDrift's exceeded measurements: drift first, then skew."""
    path = os.path.join(drift_uri, DataDriftReport.FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        report = json.load(handle)
    label = report.get("label") or {}
    rows = []
    for row in report.get("drift", []):
        if not row["exceeded"] or not row.get("judged", True):
            continue
        rows.append(_comparison_row(row, "all", f"Drift vs span {row['previous_span']}",
                                    _drift_text(row, label)))
    rows += _new_class_rows(report)
    for row in report.get("skew", []):
        if not row["exceeded"] or not row.get("judged", True):
            continue
        spans = row.get("spans") or []
        where = f"spans {spans[0]}-{spans[-1]}" if len(spans) > 1 else f"span {spans[0]}" \
            if spans else "the window"
        rows.append(_comparison_row(
            row, "train/eval", "Skew between train and eval",
            f"{_comparator_name(row['comparator'])} between the train and eval splits of "
            f"{where} is {row['value']:.4f}, above {row['threshold']:g}"))
    return rows


def _drift_text(row: dict[str, Any], label: dict[str, Any]) -> str:
    """One drift measurement above its threshold, in words (the label's in its own terms)."""
    spans = f"span {row['span']} and the previous span {row['previous_span']}"
    if row["comparator"] == "mean_shift":
        before, now = row["means"]
        return (f"the label ({label.get('rule')}) moved from a mean of {before:.4g} in span "
                f"{row['previous_span']} to {now:.4g} in span {row['span']} ({now - before:+.4g}"
                f", {row['value']:.2f} standard deviations of the previous span's label), "
                f"above {row['threshold']:g} (validation.label_shift)")
    what = (f"the label ({label.get('rule')}): class split "
            f"{_split_text(label.get('previous_distribution'))} -> "
            f"{_split_text(label.get('span_distribution'))}"
            if row["feature"] == label.get("feature") else f"'{row['feature']}'")
    return (f"{_comparator_name(row['comparator'])} between {spans} is {row['value']:.4f}, "
            f"above {row['threshold']:g}, for {what}")


def _new_class_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """A row per class of a multiclass label that no earlier span had (the model's outputs are
    its classes: one more changes every client of the served model)."""
    label = report.get("label") or {}
    known = label.get("known_classes") or []
    shown = ", ".join(known[:8]) + (f" and {len(known) - 8} more" if len(known) > 8 else "")
    return [{"split": "all", "feature": label.get("feature", "label"), "kind": NEW_LABEL_CLASS,
             "short": "New label class",
             "description": f"the label's class '{value}' ({count} example(s) in span "
                            f"{report.get('span')}) is not one of the {len(known)} classes of "
                            f"the spans before it ({shown}): a model trained on it would have "
                            "another output; check the data, or accept new classes with "
                            'validation.new_label_classes = "report"',
             "observed": f"{count} example(s)", "threshold": "a known class"}
            for value, count in (label.get("new_classes") or {}).items()]


def _comparison_row(row: dict[str, Any], split: str, short: str, description: str
                    ) -> dict[str, str]:
    return {"split": split, "feature": row["feature"],
            "kind": COMPARATOR_KINDS.get(row["comparator"], "COMPARATOR_HIGH"), "short": short,
            "description": description, "observed": f"{row['value']:.4f}",
            "threshold": f"<= {row['threshold']:g}"}


def _comparator_name(comparator: str) -> str:
    return {"infinity_norm": "L-infinity distance",
            "jensen_shannon_divergence": "Jensen-Shannon divergence"}.get(comparator, comparator)


def _split_text(distribution: dict[str, float] | None) -> str:
    if not distribution:
        return "?"
    return "/".join(f"{k}:{100 * v:.0f}%" for k, v in sorted(distribution.items()))


def collect_rows(anomalies: types.Artifact, drift_uri: str | None = None,
                 statistics_uri: str | None = None, schema_uri: str | None = None,
                 report_only: set[str] | frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """The whole table: validator rows with observed/threshold, then drift and skew rows.

    Each row has "severity": "halt", or "report" for kinds in `report_only`.
    """
    rows = read_anomalies(anomalies.uri, anomalies.split_names)
    schema = read_schema(schema_uri) if schema_uri else None
    stats_by_split: dict[str, Any] = {}
    for row in rows:
        if statistics_uri and row["split"] not in stats_by_split:
            stats_by_split[row["split"]] = read_split_statistics(statistics_uri, row["split"])
        row["observed"], row["threshold"] = measures.observed_and_threshold(
            row["kind"], row["feature"], row["description"],
            stats_by_split.get(row["split"]), schema)
    if statistics_uri:
        rows += empty_split_rows(statistics_uri, anomalies.split_names)
    if drift_uri:
        rows += drift_rows(drift_uri)
    for row in rows:
        row["severity"] = REPORT if row["kind"] in report_only else HALT
    return rows


def empty_split_rows(statistics_uri: str, split_names: str) -> list[dict[str, str]]:
    """A row per split of the span that holds no example: nothing to train or evaluate on, and
    every statistic of it is empty."""
    rows = []
    for split in artifact_utils.decode_split_names(split_names):
        stats = read_split_statistics(statistics_uri, split)
        if stats is None or sum(d.num_examples for d in stats.datasets):
            continue
        rows.append({"split": split, "feature": "(split)", "kind": EMPTY_SPLIT,
                     "short": "Empty split",
                     "description": f"the {split} split of this span holds no example "
                                    "(ExampleGen assigns each row to a split by hashing it, so "
                                    "a span of a few rows can leave a split empty): add rows, "
                                    'or accept it with validation.empty_split = "report"',
                     "observed": "0 examples", "threshold": ">= 1 example"})
    return rows


def _optional(input_dict: dict[str, list[types.Artifact]], key: str) -> types.Artifact | None:
    artifacts = input_dict.get(key) or []
    return artifacts[0] if artifacts else None


def record_verdict(result: types.Artifact, rows: list[dict[str, str]],
                   examples: types.Artifact | None, validation_key: str
                   ) -> list[dict[str, str]]:
    """Writes `result.json` and the result's custom properties; returns the rows that halt.

    `examples` (the span validated, with its MLMD id) is what later runs look up to know which
    spans passed (pipeline/span_resolver.py).
    """
    halting = [r for r in rows if r["severity"] == HALT]
    passed = not halting
    span = None
    if examples is not None and examples.has_custom_property("span"):
        span = int(examples.get_int_custom_property("span"))
    content: dict[str, Any] = {"passed": passed, "anomalies": rows}
    if examples is not None:
        content.update(span=span, examples_id=examples.id)
    io_utils.write_string_file(os.path.join(result.uri, RESULT_FILE), to_json(content))
    result.set_int_custom_property("passed", int(passed))
    result.set_int_custom_property("anomaly_count", len(rows))
    result.set_string_custom_property("validation_key", validation_key)
    if examples is not None:
        result.set_int_custom_property("examples_id", examples.id)
        result.set_int_custom_property("span", span or 0)
    return halting


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        result = artifact_utils.get_single_instance(output_dict["result"])
        drift = _optional(input_dict, "drift")
        statistics = _optional(input_dict, "statistics")
        schema = _optional(input_dict, "schema")
        rules = decode(exec_properties.get(RULES_KEY), GateRules, GateRules())
        rows = collect_rows(anomalies, drift.uri if drift else None,
                            statistics.uri if statistics else None,
                            schema.uri if schema else None, frozenset(rules.report_only))
        halting = record_verdict(result, rows, _optional(input_dict, "examples"),
                                 rules.validation_key)
        if halting and rules.halt:
            features = sorted({r["feature"] for r in halting})
            raise DataValidationError(
                f"{len(halting)} data anomalies in {', '.join(features)}; the run is halted "
                "before Transform and nothing is pushed")
