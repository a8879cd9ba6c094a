"""What a run did, read back from ML Metadata and its artifacts, as JSON-friendly data.

The same summary is printed at the end of `tfxpipe run` (`render.py`), saved as `summary.json`
in the run's folder, listed by `tfxpipe runs` and read by the review.
"""

from __future__ import annotations

import json
import os
from typing import Any

from components.data_gate.executor import collect_rows
from components.shared.artifacts import (
    DataDriftReport,
    DataValidationResult,
    NaiveBaselineMetrics,
    read_json,
)
from components.shared.tfma_metrics import (
    read_failures,
    read_metrics,
    slice_name,
)
from pipeline.config import Config
from pipeline.dag import nodes
from pipeline.records.mlmd import NodeRecord, custom_property
from pipeline.records.tuning import tuning_part
from pipeline.records.variants import variant_rows

# Ranking metrics that are undefined on a slice holding one class only (TFMA reports 0 there).
_NEED_BOTH_CLASSES = {"auc", "auc_precision_recall"}


def split_row_counts(statistics_uri: str) -> dict[str, int]:
    """Examples per split, from StatisticsGen's FeatureStats.pb files."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    counts = {}
    for entry in sorted(os.listdir(statistics_uri)):
        path = os.path.join(statistics_uri, entry, "FeatureStats.pb")
        if entry.startswith("Split-") and os.path.isfile(path):
            stats = statistics_pb2.DatasetFeatureStatisticsList()
            with open(path, "rb") as handle:
                stats.ParseFromString(handle.read())
            counts[entry[len("Split-"):]] = sum(d.num_examples for d in stats.datasets)
    return counts


def metric_rows(evaluation_uri: str) -> list[dict[str, Any]]:
    """[{"slice": {column: value}, "metrics": {name: value}}] of the candidate, overall first."""
    return [{"slice": row.slice, "metrics": row.candidate} for row in read_metrics(evaluation_uri)]


def primary_metric(config: Config) -> tuple[str, bool]:
    """The TFMA key of the metric slices are ranked by, and whether higher is better."""
    _, key, higher_is_better = config.metric_spec(config.ranking_metric)
    return key, higher_is_better


def single_class(row: dict[str, Any]) -> bool:
    """A binary slice whose examples all have the same label (mean label 0 or 1)."""
    mean = row["metrics"].get("mean_label")
    return mean is not None and (mean <= 0.0 or mean >= 1.0)


def rankable_slices(config: Config, metrics: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(slices the primary metric can rank, large-enough slices where it is undefined).

    Slices under `evaluation.min_slice_examples` are in neither list: too small to judge.
    """
    key, _ = primary_metric(config)
    minimum = config.evaluation.min_slice_examples
    large = [m for m in metrics if m["slice"] and m["metrics"].get(key) is not None
             and (m["metrics"].get("example_count") or 0) >= minimum]
    if key not in _NEED_BOTH_CLASSES:
        return large, []
    return ([m for m in large if not single_class(m)], [m for m in large if single_class(m)])


def worst_slices(config: Config, metrics: list[dict[str, Any]], count: int = 5
                 ) -> list[dict[str, Any]]:
    key, higher_is_better = primary_metric(config)
    ranked, _ = rankable_slices(config, metrics)
    ranked.sort(key=lambda m: m["metrics"][key], reverse=not higher_is_better)
    return ranked[:count]


def _uri(records: dict[str, NodeRecord], node_id: str, key: str) -> str | None:
    record = records.get(node_id)
    artifacts = record.outputs.get(key) if record else None
    return artifacts[0].uri if artifacts else None


def build_summary(config: Config, run_id: str, records: dict[str, NodeRecord]
                  ) -> dict[str, Any]:
    """Everything the end-of-run report says, as JSON-friendly data."""
    summary: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": config.pipeline.name,
        "config": config.config_path,
        "components": [{"node": n.node_id, "state": n.state, "seconds": round(n.seconds, 1)}
                       for n in records.values()],
    }
    for part in (_data_part, tuning_part, _evaluation_part, _baselines_part, _push_part):
        summary.update(part(config, records))
    variants = variant_rows(records)
    if variants is not None:
        summary["variants"] = variants
    return summary


def _data_part(config: Config, records: dict[str, NodeRecord]) -> dict[str, Any]:
    part: dict[str, Any] = {}
    stats_uri = _uri(records, nodes.STATISTICS_GEN, "statistics")
    if stats_uri:
        part["rows"] = split_row_counts(stats_uri)
    gate = records.get(nodes.DATA_GATE)
    gate_uri = _uri(records, nodes.DATA_GATE, "result")
    if gate_uri and os.path.isfile(os.path.join(gate_uri, DataValidationResult.FILE)):
        with open(os.path.join(gate_uri, DataValidationResult.FILE)) as handle:
            part["anomalies"] = json.load(handle)["anomalies"]
    elif gate is not None and gate.state == "FAILED":
        part["anomalies"] = gate_rows(config, records)
    drift_uri = _uri(records, nodes.DATA_DRIFT, "report")
    if drift_uri:
        report = read_drift_report(drift_uri)
        part.update(drift=report.get("drift", []), skew=report.get("skew", []),
                    label_drift=report.get("label"))
        if report.get("window_examples"):
            part["window_rows"] = report["window_examples"]
    return part


def _evaluation_part(config: Config, records: dict[str, NodeRecord]) -> dict[str, Any]:
    part: dict[str, Any] = {}
    evaluation_uri = _uri(records, nodes.EVALUATOR, "evaluation")
    if evaluation_uri:
        metrics = metric_rows(evaluation_uri)
        part.update(
            metrics_overall=metrics[0]["metrics"] if metrics else {},
            worst_slices=worst_slices(config, metrics),
            single_class_slices=[slice_name(m["slice"])
                                 for m in rankable_slices(config, metrics)[1]],
            primary_metric=primary_metric(config)[0],
            failed_thresholds=read_failures(evaluation_uri))
    evaluator = records.get(nodes.EVALUATOR)
    if evaluator and evaluator.outputs.get("blessing"):
        part["blessed"] = bool(custom_property(evaluator.outputs["blessing"][0], "blessed"))
        part["baseline_model"] = [a.uri for a in evaluator.inputs.get("baseline_model", [])]
    return part


def _baselines_part(config: Config, records: dict[str, NodeRecord]) -> dict[str, Any]:
    """The naive baselines' figures, the lift gate's verdict, and the blessing that counts
    (NaiveBaselines': the Evaluator's and the lift gate's); the key slices with them."""
    uri = _uri(records, nodes.NAIVE_BASELINES, "baselines")
    record = read_json(uri, NaiveBaselineMetrics.FILE) if uri else None
    part: dict[str, Any] = {}
    if record:
        part["baselines"] = record
        blessing = records[nodes.NAIVE_BASELINES].outputs.get("blessing")
        if blessing:
            part["blessed"] = bool(custom_property(blessing[0], "blessed"))
    evaluation_uri = _uri(records, nodes.EVALUATOR, "evaluation")
    if evaluation_uri and config.evaluation.key_slices:
        part["key_slices"] = key_slice_rows(config, metric_rows(evaluation_uri), record or {})
    return part


def same_slice(found: dict[str, Any], key: dict[str, str]) -> bool:
    """A TFMA slice (typed values) is the configured key slice (values as strings)."""
    if set(found) != set(key):
        return False
    for column, text in key.items():
        value = found[column]
        if str(value) != text:
            try:
                if float(value) != float(text):
                    return False
            except (TypeError, ValueError):
                return False
    return True


def key_slice_rows(config: Config, metrics: list[dict[str, Any]], baselines: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """Each key slice, in config order: the model's metrics, the baselines' metrics, and the
    configured thresholds with where they bind (the overall slice)."""
    thresholds = {config.metric_spec(name)[1]: _bound_text(bounds)
                  for name, bounds in config.evaluation.thresholds.items()}
    rows = []
    for key in config.evaluation.key_slices:
        model = next((m["metrics"] for m in metrics if same_slice(m["slice"], key)), None)
        naive = next((s["metrics"] for s in baselines.get("slices", [])
                      if same_slice(s["slice"], key)), None)
        rows.append({"slice": dict(key), "metrics": model, "baselines": naive,
                     "thresholds": thresholds})
    return rows


def _bound_text(bounds: Any) -> str:
    parts = [f">= {bounds.lower_bound:g}" if bounds.lower_bound is not None else "",
             f"<= {bounds.upper_bound:g}" if bounds.upper_bound is not None else "",
             f"change vs baseline <= {bounds.max_change:g}" if bounds.max_change is not None
             else ""]
    return " and ".join(p for p in parts if p) + " (overall)"


def _push_part(config: Config, records: dict[str, NodeRecord]) -> dict[str, Any]:
    pusher = records.get(nodes.PUSHER)
    if not (pusher and pusher.outputs.get("pushed_model")):
        return {}
    pushed = pusher.outputs["pushed_model"][0]
    return {"pushed": bool(custom_property(pushed, "pushed")),
            "pushed_version": custom_property(pushed, "pushed_version"),
            "pushed_path": custom_property(pushed, "pushed_destination"),
            "pusher_cached": pusher.state == "CACHED",
            "already_served": bool(custom_property(pushed, "already_served"))}


def read_drift_report(uri: str) -> dict[str, Any]:
    """DataDrift's drift.json: every drift and skew measurement of the span, and the label."""
    path = os.path.join(uri, DataDriftReport.FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def gate_rows(config: Config, records: dict[str, NodeRecord]) -> list[dict[str, str]]:
    """The failed DataGate's table, rebuilt from the run's validation outputs.

    A failed execution publishes no output artifact in ML Metadata, so its result.json is not
    found there; the same function the gate ran rebuilds the table from its inputs.
    """
    from tfx.types import standard_artifacts

    validator = records.get(nodes.EXAMPLE_VALIDATOR)
    if not validator or not validator.outputs.get("anomalies"):
        return []
    recorded = validator.outputs["anomalies"][0]
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = recorded.uri
    anomalies.split_names = recorded.properties["split_names"].string_value
    schema_node = (nodes.IMPORT_SCHEMA_GEN if nodes.IMPORT_SCHEMA_GEN in records
                   else nodes.SCHEMA_GEN)
    return collect_rows(anomalies, _uri(records, nodes.DATA_DRIFT, "report"),
                        _uri(records, nodes.STATISTICS_GEN, "statistics"),
                        _uri(records, schema_node, "schema"),
                        frozenset(config.report_only_anomalies))
