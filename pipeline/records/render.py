"""A run's summary as the lines `tfxpipe run` prints at its end: rows read, spans, drift and
skew, anomalies, the tuning trials, metrics and the worst slices, the blessing and why, the
push, the variants."""

from __future__ import annotations

from typing import Any

from components.shared.tfma_metrics import slice_name
from pipeline.inputs.spans import format_ranges
from pipeline.records.outcomes import OUTCOMES
from pipeline.records.tuning import tuning_lines

_COUNTS = {"example_count", "weighted_example_count"}


def _fmt(value: Any, name: str = "") -> str:
    if isinstance(value, float) and name in _COUNTS:
        return str(round(value))
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def _split_order(split: str) -> tuple[int, str]:
    return ({"train": 0, "eval": 1}.get(split, 2), split)


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
    return format_ranges(sorted(values))


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
    """The end-of-run lines, in the order a reader asks: what was read, what was found, how
    good the model is, what was decided and pushed."""
    lines = [""]
    if "rows" in summary:
        lines.append(_rows_line(summary))
    lines += data_lines(summary)
    if "anomalies" in summary:
        anomalies = summary["anomalies"]
        lines.append(f"anomalies: {len(anomalies)}")
        if anomalies:
            lines += anomaly_table(anomalies)
    lines += key_slice_lines(summary)
    lines += tuning_lines(summary)
    if "metrics_overall" in summary:
        lines += _metric_lines(summary)
    lines += baseline_lines(summary)
    if "blessed" in summary:
        lines += _blessing_lines(summary)
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


def _blessing_lines(summary: dict[str, Any]) -> list[str]:
    """Blessed or not, and why: the thresholds that failed, the gate when none is configured."""
    lines = ["blessed: " + ("yes" if summary["blessed"] else "NO")]
    if summary.get("gate"):
        lines.append(f"  gate: {summary['gate']}")
    failures = summary.get("failed_thresholds") or []
    for failure in failures:
        what = "change of " + failure["metric"] if failure["is_diff"] else failure["metric"]
        lines.append(f"  failed: {what} on {slice_name(failure['slice'])}: "
                     f"{_fmt(failure['value'])}, required {failure['threshold']}")
    lift = lift_failure(summary.get("baselines"))
    if lift:
        lines.append(f"  failed: {lift}")
    if not summary["blessed"] and not failures and not lift:
        lines.append("  failed: no threshold was met (TFMA blesses a model only when one "
                     "threshold applies and passes): set [evaluation.thresholds]")
    return lines


def _counts(counts: dict[str, int]) -> str:
    return (", ".join(f"{split} {counts[split]}" for split in sorted(counts, key=_split_order))
            + f" (total {sum(counts.values())})")


def _rows_line(summary: dict[str, Any]) -> str:
    """Rows per split of the run's span, and of its window when it trained on several spans."""
    window = summary.get("window_rows") or {}
    spans = summary.get("spans") or []
    target = f" in span {spans[-1]['span']}" if window and spans else ""
    text = "rows read: " + _counts(summary["rows"]) + target
    if window and spans:  # a run stopped by a signal records no spans
        text += f"; window {_ranges([s['span'] for s in spans])}: " + _counts(window)
    return text


def _metric_lines(summary: dict[str, Any]) -> list[str]:
    shown = {k: v for k, v in summary["metrics_overall"].items() if v is not None}
    lines = ["metrics (overall): " + ", ".join(f"{k}={_fmt(v, k)}" for k, v in shown.items())]
    key = summary["primary_metric"]
    if summary["worst_slices"]:
        lines.append(f"worst slices by {key}:")
        for row in summary["worst_slices"]:
            lines.append(f"  {slice_name(row['slice']):<48} {key}={_fmt(row['metrics'][key])}"
                         f"  n={_fmt(row['metrics'].get('example_count'), 'example_count')}"
                         + _naive_text(naive_on(summary, row["slice"]), key))
    single = summary.get("single_class_slices") or []
    if single:
        more = f" and {len(single) - 4} more" if len(single) > 4 else ""
        lines.append(f"  not ranked, one class only ({key} undefined): "
                     f"{', '.join(single[:4])}{more}")
    return lines


def naive_on(summary: dict[str, Any], key: dict[str, Any]) -> dict[str, Any] | None:
    """The naive baselines' metrics on one slice ({baseline: {metric: value}}), or None."""
    for row in (summary.get("baselines") or {}).get("slices", []):
        if row["slice"] == key:
            return row["metrics"]
    return None


def _naive_text(naive: dict[str, Any] | None, key: str) -> str:
    if not naive:
        return ""
    return "  naive: " + ", ".join(f"{name} {_fmt(metrics.get(key))}"
                                   for name, metrics in naive.items())


def lift_required(baselines: dict[str, Any]) -> tuple[str, str | None]:
    """What the lift had to exceed, and why when it is the margin for chance (larger than
    min_lift); summaries written before that margin name min_lift only."""
    error, required = baselines.get("chance_error"), baselines.get("required")
    if error is None or required is None or required <= baselines["min_lift"]:
        return f"{baselines['min_lift']:g}", None
    return (f"{required:.4f}", f"{baselines['chance_margin']:g} standard errors of "
            f"{baselines['metric']} by chance on the eval split, {error:.4f} each: "
            "evaluation.chance_margin")


def lift_failure(baselines: dict[str, Any] | None) -> str | None:
    """The lift gate's failure in words, or None when it passed or did not judge."""
    if not baselines or baselines.get("passed") is not False:
        return None
    required, chance = lift_required(baselines)
    return (f"lift of {baselines['metric']} over the best naive baseline "
            f"({baselines['best_baseline']}, {_fmt(baselines['best_value'])}) on overall: "
            f"{baselines['lift']:+.4f}, required > {required} "
            + ("(evaluation.min_lift): a trivial rule does as well" if chance is None else
               f"({chance}): no better than chance could make it"))


def baseline_lines(summary: dict[str, Any]) -> list[str]:
    """The naive baselines on the gated metric overall, and the model's lift over the best."""
    baselines = summary.get("baselines")
    if not baselines:
        return []
    key = baselines["metric"]
    naive = naive_on(summary, {}) or {}
    line = f"naive baselines ({key}, overall):" + _naive_text(naive, key)[len("  naive:"):]
    if baselines.get("lift") is not None:
        line += (f"; model {_fmt(baselines['model_value'])}, lift {baselines['lift']:+.4f} "
                 f"over {baselines['best_baseline']} (required > "
                 + ": ".join(p for p in lift_required(baselines) if p) + ")")
    else:
        line += f"; lift not judged ({key} undefined)"
    return [line]


def key_slice_lines(summary: dict[str, Any]) -> list[str]:
    """The key slices first: the model's figures, the baselines' on them, the thresholds."""
    rows = summary.get("key_slices") or []
    if not rows:
        return []
    key = summary.get("primary_metric") or (summary.get("baselines") or {}).get("metric")
    lines = ["key slices:"]
    for row in rows:
        metrics = row.get("metrics")
        if metrics is None:
            lines.append(f"  {slice_name(row['slice']):<40} not in the eval split")
            continue
        bounds = "; ".join(f"{name} {text}" for name, text in row["thresholds"].items())
        lines.append(f"  {slice_name(row['slice']):<40} {key}={_fmt(metrics.get(key))}  "
                     f"n={_fmt(metrics.get('example_count'), 'example_count')}"
                     + _naive_text(row.get("baselines"), key)
                     + (f"  thresholds: {bounds}" if bounds else ""))
    return lines


def _kb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KB"


def _overall_delta(row: dict[str, Any]) -> str:
    overall = [d for d in row["deltas"] if not d["slice"] and d["delta"] is not None]
    return ", ".join(f"{d['metric']} {d['delta']:+.4f}" for d in overall) or "no delta"


def render_variants(rows: list[dict[str, Any]] | None) -> list[str]:
    """One line per variant: blessed or not, pushed or not, format, size, AUC delta overall,
    median latency, and why."""
    if rows is None:
        return []
    lines = ["variants:"]
    for row in rows:
        state = ("blessed, pushed" if row["pushed_path"] else
                 "blessed, not pushed" if row["blessed"] else "NOT blessed")
        sparsity = f", sparsity {row['sparsity']:.2f}" if row["sparsity"] is not None else ""
        p50 = (f", p50 {row['latency_ms']['p50']:.3f} ms" if row.get("latency_ms") else "")
        lines.append(f"  {row['name']:<15} {state:<20} {row['format']} "
                     f"{_kb(row['size_bytes'])} (gzip {_kb(row['gzip_bytes'])}){sparsity}, "
                     f"{_overall_delta(row)} overall{p50}: {row['reason']}")
    return lines
