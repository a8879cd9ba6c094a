"""What a run did, read back from ML Metadata and its artifacts, as a dict and as text.

The same summary is printed at the end of `tfxpipe run`, saved as `summary.json` in the run's
folder, and listed by `tfxpipe runs`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.logs import quiet_tensorflow_warnings
from pipeline.mlmd import NodeRecord, custom_property
from pipeline.variants_summary import render_variants, variant_rows

EXIT_PUSHED = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_BLESSED = 3
EXIT_DATA_HALT = 4

OUTCOMES = {
    EXIT_PUSHED: "pushed",
    EXIT_ERROR: "error",
    EXIT_USAGE: "config error",
    EXIT_NOT_BLESSED: "not blessed",
    EXIT_DATA_HALT: "halted by data validation",
}


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


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def load_metrics(evaluation_uri: str) -> list[Any]:
    """TFMA's MetricsForSlice records of an evaluation, without TFMA's deprecation notices."""
    import tensorflow_model_analysis as tfma

    with quiet_tensorflow_warnings():
        return list(tfma.load_metrics(evaluation_uri))


def read_metrics(evaluation_uri: str) -> list[dict[str, Any]]:
    """[{"slice": {feature: value}, "metrics": {name: value}}], the overall slice first."""
    from components.versioned_pusher.manifest import slice_dict

    rows = []
    for per_slice in load_metrics(evaluation_uri):
        slice_key = slice_dict(per_slice.slice_key)
        metrics = {}
        for kv in per_slice.metric_keys_and_values:
            if kv.key.is_diff or kv.key.model_name == "baseline" or kv.key.sub_key.ByteSize():
                continue
            if kv.value.HasField("double_value"):
                metrics[kv.key.name] = _finite(kv.value.double_value.value)
        rows.append({"slice": slice_key, "metrics": metrics})
    rows.sort(key=lambda r: (len(r["slice"]), sorted(map(str, r["slice"].items()))))
    return rows


def read_validation(evaluation_uri: str) -> list[dict[str, Any]]:
    """The thresholds the model failed: metric, slice, value, bound."""
    import tensorflow_model_analysis as tfma

    from components.versioned_pusher.manifest import slice_dict

    with quiet_tensorflow_warnings():
        result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        slice_key = slice_dict(per_slice.slice_key)
        for failure in per_slice.failures:
            failures.append({
                "metric": failure.metric_key.name,
                "is_diff": failure.metric_key.is_diff,
                "slice": slice_key,
                "value": _finite(failure.metric_value.double_value.value),
                "threshold": _threshold_text(failure.metric_threshold),
            })
    return failures


def _threshold_text(threshold) -> str:
    parts = []
    if threshold.HasField("value_threshold"):
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            parts.append(f">= {bound.lower_bound.value:.4g}")
        if bound.HasField("upper_bound"):
            parts.append(f"<= {bound.upper_bound.value:.4g}")
    if threshold.HasField("change_threshold"):
        from tensorflow_model_analysis.proto.config_pb2 import MetricDirection

        change = threshold.change_threshold
        parts.append(f"change vs baseline >= {change.absolute.value:.4g}"
                     if change.direction == MetricDirection.HIGHER_IS_BETTER else
                     f"change vs baseline <= {change.absolute.value:.4g}")
    return " and ".join(parts)


def primary_metric(config: Config) -> tuple[str, bool]:
    """The metric slices are ranked by: the first thresholded one, else the task's usual one."""
    name = next(iter(config.evaluation.thresholds), None) or {
        "binary": "auc", "multiclass": "accuracy", "regression": "mse"}[config.label.kind]
    _, key, higher_is_better = config.metric_spec(name)
    return key, higher_is_better


# Ranking metrics that are undefined on a slice holding one class only (TFMA reports 0 there).
_NEED_BOTH_CLASSES = {"auc", "auc_precision_recall"}


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


def _uri(nodes: dict[str, NodeRecord], node_id: str, key: str) -> str | None:
    record = nodes.get(node_id)
    artifacts = record.outputs.get(key) if record else None
    return artifacts[0].uri if artifacts else None


def build_summary(config: Config, run_id: str, nodes: dict[str, NodeRecord]) -> dict[str, Any]:
    """Everything the end-of-run report says, as JSON-friendly data."""
    summary: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": config.pipeline.name,
        "config": config.config_path,
        "components": [{"node": n.node_id, "state": n.state, "seconds": round(n.seconds, 1)}
                       for n in nodes.values()],
    }
    stats_uri = _uri(nodes, "StatisticsGen", "statistics")
    if stats_uri:
        summary["rows"] = split_row_counts(stats_uri)
    gate = nodes.get("DataGate")
    gate_uri = _uri(nodes, "DataGate", "result")
    if gate_uri and os.path.isfile(os.path.join(gate_uri, "result.json")):
        with open(os.path.join(gate_uri, "result.json")) as handle:
            summary["anomalies"] = json.load(handle)["anomalies"]
    elif gate is not None and gate.state == "FAILED":
        summary["anomalies"] = gate_rows(config, nodes)
    drift_uri = _uri(nodes, "DataDrift", "report")
    if drift_uri:
        report = read_drift_report(drift_uri)
        summary["drift"] = report.get("drift", [])
        summary["skew"] = report.get("skew", [])
        summary["label_drift"] = report.get("label")
        if report.get("window_examples"):
            summary["window_rows"] = report["window_examples"]
    evaluation_uri = _uri(nodes, "Evaluator", "evaluation")
    if evaluation_uri:
        metrics = read_metrics(evaluation_uri)
        summary["metrics_overall"] = metrics[0]["metrics"] if metrics else {}
        summary["worst_slices"] = worst_slices(config, metrics)
        summary["single_class_slices"] = [
            _slice_name(m["slice"]) for m in rankable_slices(config, metrics)[1]]
        summary["primary_metric"] = primary_metric(config)[0]
        summary["failed_thresholds"] = read_validation(evaluation_uri)
    blessing = nodes.get("Evaluator")
    if blessing and blessing.outputs.get("blessing"):
        summary["blessed"] = bool(custom_property(blessing.outputs["blessing"][0], "blessed"))
        summary["baseline_model"] = [a.uri for a in blessing.inputs.get("baseline_model", [])]
    pusher = nodes.get("VersionedPusher")
    if pusher and pusher.outputs.get("pushed_model"):
        pushed = pusher.outputs["pushed_model"][0]
        summary["pushed"] = bool(custom_property(pushed, "pushed"))
        summary["pushed_version"] = custom_property(pushed, "pushed_version")
        summary["pushed_path"] = custom_property(pushed, "pushed_destination")
        summary["pusher_cached"] = pusher.state == "CACHED"
        summary["already_served"] = bool(custom_property(pushed, "already_served"))
    variants = variant_rows(nodes)
    if variants is not None:
        summary["variants"] = variants
    return summary


def read_drift_report(uri: str) -> dict[str, Any]:
    """DataDrift's drift.json: every drift and skew measurement of the span, and the label."""
    path = os.path.join(uri, "drift.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def gate_rows(config: Config, nodes: dict[str, NodeRecord]) -> list[dict[str, str]]:
    """The failed DataGate's table, rebuilt from the run's validation outputs.

    A failed execution publishes no output artifact in ML Metadata, so its result.json is not
    found there; the same function the gate ran rebuilds the table from its inputs.
    """
    from tfx.types import standard_artifacts

    from components.data_gate.executor import collect_rows

    validator = nodes.get("ExampleValidator")
    if not validator or not validator.outputs.get("anomalies"):
        return []
    recorded = validator.outputs["anomalies"][0]
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = recorded.uri
    anomalies.split_names = recorded.properties["split_names"].string_value
    schema_node = "ImportSchemaGen" if "ImportSchemaGen" in nodes else "SchemaGen"
    report_only = {"SCHEMA_NEW_COLUMN"} if config.validation.new_columns == "report" else set()
    return collect_rows(anomalies, _uri(nodes, "DataDrift", "report"),
                        _uri(nodes, "StatisticsGen", "statistics"),
                        _uri(nodes, schema_node, "schema"), report_only)


def read_validator_anomalies(nodes: dict[str, NodeRecord]) -> list[dict[str, str]]:
    from components.data_gate.executor import read_anomalies

    validator = nodes.get("ExampleValidator")
    if not validator or not validator.outputs.get("anomalies"):
        return []
    artifact = validator.outputs["anomalies"][0]
    return read_anomalies(artifact.uri, artifact.properties["split_names"].string_value)


_COUNTS = {"example_count", "weighted_example_count"}


def _fmt(value: Any, name: str = "") -> str:
    if isinstance(value, float) and name in _COUNTS:
        return str(round(value))
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def _split_order(split: str) -> tuple[int, str]:
    return ({"train": 0, "eval": 1}.get(split, 2), split)


def _slice_name(slice_key: dict[str, Any]) -> str:
    return " x ".join(f"{k}={v}" for k, v in slice_key.items()) or "overall"


def anomaly_table(anomalies: list[dict[str, str]]) -> list[str]:
    """Feature, anomaly kind, observed value, threshold and description, one row each."""
    def width(key: str, minimum: int, most: int) -> int:
        return min(most, max([len(str(a.get(key, "-"))) for a in anomalies] + [minimum]))

    spans = any("span" in a for a in anomalies)
    w_feature, w_kind = width("feature", 7, 28), width("kind", 7, 41)
    w_observed, w_threshold = width("observed", 8, 34), width("threshold", 9, 26)
    lead = "  span" if spans else ""
    lines = [f"{lead}  {'split':<10} {'feature':<{w_feature}} {'anomaly':<{w_kind}} "
             f"{'observed':<{w_observed}} {'threshold':<{w_threshold}} description"]
    for a in anomalies:
        span = f"  {str(a.get('span', '')):>4}" if spans else ""
        note = " (reported, does not halt)" if a.get("severity") == "report" else ""
        lines.append(f"{span}  {a['split']:<10} {a['feature']:<{w_feature}} "
                     f"{a['kind']:<{w_kind}} {a.get('observed', '-'):<{w_observed}} "
                     f"{a.get('threshold', '-'):<{w_threshold}} {a['description']}{note}")
    return lines


def _ranges(values: list[int]) -> str:
    from pipeline.spans import format_ranges as ranges

    return ranges(sorted(values))


def data_lines(summary: dict[str, Any]) -> list[str]:
    """Spans, drift and skew: what the data part of the run read and measured."""
    lines = []
    spans = summary.get("spans") or []
    if spans:
        rows = sum(f["rows"] for s in spans for f in s["files"])
        lines.append(f"spans: {_ranges([s['span'] for s in spans])} ({len(spans)} span(s), "
                     f"{rows} rows, {sum(len(s['files']) for s in spans)} file(s))"
                     + (f"; backfilled {_ranges(summary['backfilled_spans'])}"
                        if summary.get("backfilled_spans") else ""))
    drift = summary.get("drift") or []
    newest = max((r["span"] for r in drift), default=None)
    earlier = [r for r in drift if r["span"] != newest]
    if earlier:
        spans_seen = sorted({r["span"] for r in earlier})
        lines.append(_comparison_line(f"drift of backfilled spans {_ranges(spans_seen)}",
                                      earlier, with_span=True))
    latest = [r for r in drift if r["span"] == newest]
    if latest:
        lines.append(_comparison_line(
            f"drift span {newest} vs {latest[0]['previous_span']}", latest))
    skew = summary.get("skew") or []
    if skew:
        counts = skew[0].get("examples") or {}
        judged = "" if skew[0].get("judged", True) else (
            f" [not judged: {min(counts.values(), default=0)} examples in the smaller split]")
        lines.append(_comparison_line("skew train vs eval", skew) + judged)
    return lines


def _comparison_line(what: str, rows: list[dict[str, Any]], with_span: bool = False) -> str:
    exceeded = [r for r in rows if r["exceeded"]]
    ranked = sorted(rows, key=lambda r: r["value"] / r["threshold"] if r["threshold"] else 0,
                    reverse=True)
    shown = ", ".join(f"{r['feature']} {r['value']:.3f} (<= {r['threshold']:g}"
                      + (f", span {r['span']})" if with_span else ")")
                      for r in ranked[:3])
    return (f"{what}: {len(rows)} measured, {len(exceeded)} above threshold; "
            f"closest: {shown}")


def render(summary: dict[str, Any], outcome: int) -> list[str]:
    lines = [""]
    if "rows" in summary:
        rows = summary["rows"]
        window = summary.get("window_rows") or {}
        spans = summary.get("spans") or []
        target = f" in span {spans[-1]['span']}" if window and spans else ""
        lines.append("rows read: " + ", ".join(
            f"{split} {rows[split]}" for split in sorted(rows, key=_split_order))
            + f" (total {sum(rows.values())}){target}"
            + (f"; window {_ranges([s['span'] for s in spans])}: " + ", ".join(
                f"{split} {window[split]}" for split in sorted(window, key=_split_order))
               + f" (total {sum(window.values())})" if window else ""))
    lines += data_lines(summary)
    if "anomalies" in summary:
        anomalies = summary["anomalies"]
        lines.append(f"anomalies: {len(anomalies)}")
        if anomalies:
            lines += anomaly_table(anomalies)
    if "metrics_overall" in summary:
        metrics = summary["metrics_overall"]
        shown = {k: v for k, v in metrics.items() if v is not None}
        lines.append("metrics (overall): "
                     + ", ".join(f"{k}={_fmt(v, k)}" for k, v in shown.items()))
        key = summary["primary_metric"]
        if summary["worst_slices"]:
            lines.append(f"worst slices by {key}:")
            for row in summary["worst_slices"]:
                lines.append(f"  {_slice_name(row['slice']):<48} {key}={_fmt(row['metrics'][key])}"
                             f"  n={_fmt(row['metrics'].get('example_count'), 'example_count')}")
        single = summary.get("single_class_slices") or []
        if single:
            shown = ", ".join(single[:4]) + (f" and {len(single) - 4} more" if len(single) > 4
                                             else "")
            lines.append(f"  not ranked, one class only ({key} undefined): {shown}")
    if "blessed" in summary:
        lines.append("blessed: " + ("yes" if summary["blessed"] else "NO"))
        for failure in summary.get("failed_thresholds", []):
            what = "change of " + failure["metric"] if failure["is_diff"] else failure["metric"]
            lines.append(f"  failed: {what} on {_slice_name(failure['slice'])}: "
                         f"{_fmt(failure['value'])}, required {failure['threshold']}")
    if summary.get("pushed"):
        note = (" (unchanged: served from cache)" if summary.get("pusher_cached")
                else " (already the served version: no new version)"
                if summary.get("already_served") else "")
        lines.append(f"pushed: version {summary['pushed_version']} -> "
                     f"{summary['pushed_path']}{note}")
    elif "pushed" in summary:
        lines.append("pushed: nothing (the model is not blessed)")
    lines += render_variants(summary.get("variants"))
    lines.append(f"outcome: {OUTCOMES[outcome]} (exit {outcome})")
    return lines


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return path
