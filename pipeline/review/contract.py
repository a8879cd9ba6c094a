"""Readers of a run's summary.json, as tables: what the run decided and why.

Some keys exist only when the pipeline built that part (`spans` and `drift` from the data
issue, `variants` from the optimization issue, `observed`/`threshold` in anomaly rows). Each
reader returns a table when its key is present and a `NotAvailable` saying so when it is not, so
the notebooks and the report work for every run, old and new.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# `payment_type=Cash x trip_start_hour=16`; `overall` for the empty slice.
from components.shared.tfma_metrics import slice_name as slice_label
from pipeline.records.render import lift_failure, lift_required
from pipeline.review.unavailable import NotAvailable


def _frame(rows: list[dict[str, Any]], columns: list[str], empty: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["empty"] = empty
    return frame


# ---------------------------------------------------------------------------------------------
# The decision


def decision(summary: dict[str, Any]) -> dict[str, Any]:
    """{"outcome", "headline", "reasons": [str]}: what happened to the model and why, in words."""
    outcome = summary.get("outcome", "unknown")
    reasons: list[str] = []
    if summary.get("error"):
        headline = "error: the run did not finish"
        reasons.append(summary["error"])
    elif outcome == "halted by data validation" or (
            summary.get("anomalies") and "blessed" not in summary):
        anomalies = summary.get("anomalies") or []
        features = sorted({a["feature"] for a in anomalies})
        headline = "halted by data validation: nothing was trained or pushed"
        reasons.append(f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} against "
                       f"the schema in {', '.join(features) or 'the data'}")
    elif summary.get("blessed") is False:
        headline = "not blessed: nothing was pushed, the served version stays"
        for failure in summary.get("failed_thresholds") or []:
            what = ("change of " if failure.get("is_diff") else "") + failure["metric"]
            value = failure.get("value")
            shown = "undefined" if value is None else f"{value:.4f}"
            reasons.append(f"{what} on {slice_label(failure.get('slice'))}: {shown}, "
                           f"required {failure.get('threshold')}")
        lift = lift_failure(summary.get("baselines"))
        if lift:
            reasons.append(lift)
        if not reasons:
            reasons.append("the Evaluator did not bless the model (no threshold failure recorded)")
    elif summary.get("blessed"):
        if summary.get("pushed"):
            version = summary.get("pushed_version")
            if summary.get("pusher_cached"):
                headline = f"blessed; version {version} unchanged (served from cache)"
            elif summary.get("already_served"):
                headline = f"blessed; already the served version {version}: no new version"
            else:
                headline = f"blessed and pushed as version {version}"
        else:
            headline = "blessed; not pushed"
        reasons.append("every threshold passed"
                       + (" against the baseline" if summary.get("baseline_model") else ""))
        baselines = summary.get("baselines") or {}
        if baselines.get("passed"):
            reasons.append(f"{baselines['metric']} {baselines['model_value']:.4f} beats the best "
                           f"naive baseline ({baselines['best_baseline']}, "
                           f"{baselines['best_value']:.4f}) by {baselines['lift']:+.4f}, "
                           "more than " + required_words(baselines))
    else:
        headline = f"outcome: {outcome}"
    return {"outcome": outcome, "headline": headline, "reasons": reasons}


def decision_text(summary: dict[str, Any]) -> str:
    decided = decision(summary)
    return "\n".join([decided["headline"], *(f"  - {r}" for r in decided["reasons"])])


def failed_thresholds_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    if "failed_thresholds" not in summary:
        return NotAvailable("the model was not evaluated")
    rows = [{"metric": ("change of " if f.get("is_diff") else "") + f["metric"],
             "slice": slice_label(f.get("slice")), "value": f.get("value"),
             "required": f.get("threshold")}
            for f in summary["failed_thresholds"]]
    return _frame(rows, ["metric", "slice", "value", "required"],
                  "none: every threshold passed")


def key_slices_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """The key slices (evaluation.key_slices), in config order: the model's gated metric, each
    naive baseline's on the same slice, the example count, and the thresholds (which bind the
    overall slice)."""
    rows_in = summary.get("key_slices")
    if not rows_in:
        return NotAvailable("no key slice is configured (evaluation.key_slices)")
    key = summary.get("primary_metric") or (summary.get("baselines") or {}).get("metric")
    names = list((summary.get("baselines") or {}).get("baselines") or {})
    rows = []
    for row in rows_in:
        model = row.get("metrics") or {}
        naive = row.get("baselines") or {}
        rows.append({"slice": slice_label(row["slice"]), "example_count":
                     model.get("example_count"), key: model.get(key),
                     **{f"{name} (naive)": (naive.get(name) or {}).get(key) for name in names},
                     "thresholds": "; ".join(f"{m} {t}" for m, t in row["thresholds"].items())})
    return _frame(rows, ["slice", "example_count", key, *(f"{n} (naive)" for n in names),
                         "thresholds"], "no key slice")


def naive_baselines_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """Each naive baseline: what it is, and its every metric on the overall slice."""
    baselines = summary.get("baselines")
    if not baselines:
        return NotAvailable("the run has no naive baselines (it did not reach them, or "
                            "predates them)")
    overall = next((s["metrics"] for s in baselines["slices"] if not s["slice"]), {})
    rows = [{"baseline": name, "what it is": what, **overall.get(name, {})}
            for name, what in baselines["baselines"].items()]
    metrics = sorted({m for row in overall.values() for m in row})
    return _frame(rows, ["baseline", "what it is", *metrics], "no baseline")


# ---------------------------------------------------------------------------------------------
# Data


def data_files_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    files = summary.get("data_files")
    if not files:
        return NotAvailable("the run recorded no input files")
    rows = [{"path": f.get("path"), "rows": f.get("rows"), "bytes": f.get("bytes"),
             "sha256": (f.get("sha256") or "")[:16]} for f in files]
    return _frame(rows, ["path", "rows", "bytes", "sha256"], "no files")


def spans_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """One row per (span, file) the run read."""
    spans = summary.get("spans")
    if not spans:
        return NotAvailable("the pipeline recorded no spans (all data is one span)")
    rows = []
    for span in sorted(spans, key=lambda s: s.get("span", 0)):
        for f in span.get("files") or [{}]:
            rows.append({"span": span.get("span"), "path": f.get("path"), "rows": f.get("rows"),
                         "bytes": f.get("bytes"), "sha256": (f.get("sha256") or "")[:16]})
    return _frame(rows, ["span", "path", "rows", "bytes", "sha256"], "no spans")


def drift_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """Drift per feature against the previous span, as the pipeline measured it; worst first."""
    if "drift" not in summary:
        return NotAvailable("the pipeline recorded no drift values (they need a previous span)")
    if not summary["drift"]:
        return NotAvailable("no previous span to compare with")
    rows = [{"feature": d.get("feature"), "comparator": d.get("comparator"),
             "value": d.get("value"), "threshold": d.get("threshold"),
             "exceeded": bool(d.get("exceeded")), "span": d.get("span"),
             "previous_span": d.get("previous_span")} for d in summary["drift"]]
    columns = ["feature", "comparator", "value", "threshold", "exceeded", "span",
               "previous_span"]
    if any(d.get("judged") is False for d in summary["drift"]):  # spans too small to judge
        columns.append("note")
        for row, measured in zip(rows, summary["drift"], strict=True):
            row["note"] = measured.get("note", "")
    rows.sort(key=lambda r: (not r["exceeded"], -_ratio(r["value"], r["threshold"]),
                             str(r["feature"])))
    return _frame(rows, columns, "no drift values")


def _ratio(value: float | None, threshold: float | None) -> float:
    if value is None:
        return 0.0
    return value / threshold if threshold else value


def anomalies_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """One row per (split, feature, anomaly); `observed` and `threshold` when the run has them."""
    if "anomalies" not in summary:
        return NotAvailable("data validation did not run")
    anomalies = summary["anomalies"]
    columns = ["split", "feature", "kind", "short", "description"]
    if any("observed" in a or "threshold" in a for a in anomalies):
        columns[3:3] = ["observed", "threshold"]
    rows = [{c: a.get(c) for c in columns} for a in anomalies]
    return _frame(rows, columns, "none: every split matches the schema")


# ---------------------------------------------------------------------------------------------
# Model


def overall_metrics_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    metrics = summary.get("metrics_overall")
    if metrics is None:
        return NotAvailable("the model was not evaluated")
    rows = [{"metric": k, "value": v} for k, v in metrics.items()]
    return _frame(rows, ["metric", "value"], "no metrics")


def variants_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """The optimized variants of the model: size, sparsity, latency, blessing and reason."""
    variants = summary.get("variants")
    if not variants:
        return NotAvailable("no optimized variants were built")
    latency_keys = sorted({k for v in variants for k in (v.get("latency_ms") or {})},
                          key=lambda k: (not k.startswith("p"), _percentile(k), k))
    rows = []
    for v in variants:
        row = {"name": v.get("name"), "format": v.get("format"),
               "size_bytes": v.get("size_bytes"), "gzip_bytes": v.get("gzip_bytes"),
               "sparsity": v.get("sparsity"), "blessed": v.get("blessed"),
               "reason": v.get("reason"), "pushed_path": v.get("pushed_path")}
        latency = v.get("latency_ms") or {}
        row.update({f"latency_ms_{k}": latency.get(k) for k in latency_keys})
        rows.append(row)
    columns = ["name", "format", "size_bytes", "gzip_bytes", "sparsity",
               *[f"latency_ms_{k}" for k in latency_keys], "blessed", "reason", "pushed_path"]
    return _frame(rows, columns, "no variants")


def _percentile(key: str) -> float:
    try:
        return float(key[1:])
    except ValueError:
        return float("inf")


def variant_deltas_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """Each variant's metric against the dense model, per slice; judged rows first, worst first."""
    variants = summary.get("variants")
    if not variants:
        return NotAvailable("no optimized variants were built")
    rows = []
    for v in variants:
        for d in v.get("deltas") or []:
            rows.append({"variant": v.get("name"), "slice": slice_label(d.get("slice")),
                         "metric": d.get("metric"), "dense": d.get("dense"),
                         "value": d.get("variant"), "delta": d.get("delta"),
                         "example_count": d.get("example_count"),
                         "judged": bool(d.get("judged"))})
    if not rows:
        return NotAvailable("the variants recorded no metric deltas")
    rows.sort(key=lambda r: (str(r["variant"]), not r["judged"], r["slice"] != "overall",
                             r["delta"] if r["delta"] is not None else 0.0))
    return _frame(rows, ["variant", "slice", "metric", "dense", "value", "delta",
                         "example_count", "judged"], "no deltas")


# ---------------------------------------------------------------------------------------------
# Tuning


def tuning_table(summary: dict[str, Any]) -> pd.DataFrame | NotAvailable:
    """The Tuner's trials, best first: score on the objective and the values tried; the best
    is the one the Trainer trained with."""
    tuning = summary.get("tuning")
    if not tuning:
        return NotAvailable("the run did not tune hyperparameters (make tune, or [tuning])")
    names = [n for n in dict.fromkeys(k for t in tuning["trials"] for k in t["values"])]
    rows = [{"rank": rank + 1, "trial": t.get("trial_id"), tuning["objective"]: t.get("score"),
             **{n: _value(t["values"].get(n)) for n in names}}
            for rank, t in enumerate(tuning["trials"])]
    return _frame(rows, ["rank", "trial", tuning["objective"], *names], "no trial completed")


def _value(value: Any) -> Any:
    return ",".join(str(v) for v in value) if isinstance(value, list) else value


def required_words(baselines: dict[str, Any]) -> str:
    """What the lift gate required, for a reader: min_lift, or the margin for chance."""
    required, chance = lift_required(baselines)
    return f"min_lift {required}" if chance is None else f"{required} ({chance})"
