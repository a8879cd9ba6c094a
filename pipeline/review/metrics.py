"""The Evaluator's TFMA result as tables: metrics overall and per slice, next to their thresholds,
with the slices that fail (or would fail) them marked, and the comparison with the baseline.

Everything is read with the one TFMA reader (components/shared/tfma_metrics.py), as the
end-of-run summary reads it, ranked as the summary ranks it (`pipeline.records.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from components.shared.tfma_metrics import (
    read_failures,
    read_metrics,
    slice_name,
    threshold_text,
)
from pipeline.config import Config
from pipeline.config.catalogue import metric_keys
from pipeline.records.summary import metric_rows, primary_metric, single_class
from pipeline.review import figures
from pipeline.review.display import escaped
from pipeline.review.unavailable import NotAvailable

FAILED = "FAILED"            # failed a threshold the Evaluator applied: the model is not blessed
PASSED = "passed"
BELOW_BOUND = "below bound"  # a slice under an absolute bound that gates only the overall slice
ONE_CLASS = "one class"      # a binary slice of one label: AUC is undefined there
SMALL = "small"              # fewer examples than evaluation.min_slice_examples: not judged


@dataclass(frozen=True)
class Threshold:
    metric: str                    # TFMA metric key, e.g. "auc"
    spec: tuple[str, ...] | None   # feature keys of the slicing spec; None: every slice
    text: str                      # ">= 0.7 and change vs baseline >= -0.01"
    lower: float | None
    upper: float | None

    def applies_to(self, slice_key: dict[str, Any]) -> bool:
        return self.spec is None or set(self.spec) == set(slice_key)

    def violated_by(self, value: float | None) -> bool:
        return value is not None and ((self.lower is not None and value < self.lower)
                                      or (self.upper is not None and value > self.upper))


def read_thresholds(evaluation_uri: str) -> list[Threshold]:
    """The thresholds the Evaluator applied, from the EvalConfig saved with its result.

    (TFX drops change thresholds when there is no baseline, so this is what was really judged.)
    """
    from tensorflow_model_analysis.writers.eval_config_writer import load_eval_run

    eval_config = load_eval_run(evaluation_uri)[0]
    if eval_config is None:
        return []
    keys = metric_keys()
    found = []

    def add(metric: str, spec: tuple[str, ...] | None, threshold) -> None:
        value = threshold.value_threshold if threshold.HasField("value_threshold") else None
        lower = (value.lower_bound.value if value is not None and value.HasField("lower_bound")
                 else None)
        upper = (value.upper_bound.value if value is not None and value.HasField("upper_bound")
                 else None)
        found.append(Threshold(metric, spec, threshold_text(threshold), lower, upper))

    for metrics_spec in eval_config.metrics_specs:
        for metric in metrics_spec.metrics:
            key = keys.get(metric.class_name, metric.class_name)
            if metric.HasField("threshold"):
                add(key, None, metric.threshold)
            for per_slice in metric.per_slice_thresholds:
                for spec in per_slice.slicing_specs:
                    add(key, tuple(spec.feature_keys), per_slice.threshold)
        for key, threshold in metrics_spec.thresholds.items():
            add(key, None, threshold)
        for key, per_slice_list in metrics_spec.per_slice_thresholds.items():
            for per_slice in per_slice_list.thresholds:
                for spec in per_slice.slicing_specs:
                    add(key, tuple(spec.feature_keys), per_slice.threshold)
    return found


def read_model_comparison(evaluation_uri: str) -> dict[str, dict[str, dict[str, float]]]:
    """{slice label: {metric: {"baseline": v, "diff": d}}} of an evaluation with a baseline.

    Empty when the Evaluator had no baseline model.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in read_metrics(evaluation_uri):
        label = slice_name(row.slice)
        for name, value in row.baseline.items():
            out.setdefault(label, {}).setdefault(name, {})["baseline"] = value
        for name, value in row.diff.items():
            out.setdefault(label, {}).setdefault(name, {})["diff"] = value
    return out


_COUNTS = {"example_count", "weighted_example_count"}


def _count(name: str, value: float | None) -> float | int | None:
    return int(round(value)) if name in _COUNTS and value is not None else value


class Evaluation:
    """One run's evaluation: candidate metrics per slice, failures, baseline comparison."""

    def __init__(self, config: Config, evaluation_uri: str, summary: dict[str, Any]):
        self.config = config
        self.uri = evaluation_uri
        self.summary = summary
        self.rows = metric_rows(evaluation_uri)           # overall first
        self.failures = read_failures(evaluation_uri)
        self.key, self.higher_is_better = primary_metric(config)
        self.thresholds = read_thresholds(evaluation_uri)

    def threshold_text(self, metric: str, slice_key: dict[str, Any]) -> str:
        return " and ".join(t.text for t in self.thresholds
                            if t.metric == metric and t.applies_to(slice_key))

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for row in self.rows:
            names += [k for k in row["metrics"] if k not in names]
        first = [self.key, "example_count"]
        return [n for n in first if n in names] + [n for n in names if n not in first]

    def _failed(self, label: str) -> dict[str, dict[str, Any]]:
        return {(("change of " if f["is_diff"] else "") + f["metric"]): f
                for f in self.failures if slice_name(f["slice"]) == label}

    def status(self, row: dict[str, Any]) -> str:
        label = slice_name(row["slice"])
        if self._failed(label):
            return FAILED
        if not row["slice"]:
            return PASSED if any(t.applies_to({}) for t in self.thresholds) else ""
        if (row["metrics"].get("example_count") or 0) < self.config.evaluation.min_slice_examples:
            return SMALL
        if self.config.label.kind == "binary" and single_class(row):
            return ONE_CLASS
        if any(t.violated_by(row["metrics"].get(t.metric)) for t in self.thresholds):
            return BELOW_BOUND
        return ""

    def overall_table(self) -> pd.DataFrame:
        """Each metric of the overall slice: value, threshold, baseline, change, status."""
        overall = self.rows[0]["metrics"] if self.rows and not self.rows[0]["slice"] else {}
        comparison = read_model_comparison(self.uri).get("overall", {})
        failed = self._failed("overall")
        rows = []
        for name in self.metric_names:
            if name not in overall:
                continue
            versus = comparison.get(name, {})
            threshold = self.threshold_text(name, {})
            status = ""
            if threshold:
                status = FAILED if name in failed or f"change of {name}" in failed else PASSED
            rows.append({"metric": name, "value": _count(name, overall[name]),
                         "threshold": threshold, "status": status,
                         "baseline": _count(name, versus.get("baseline")),
                         "change": versus.get("diff")})
        # object columns: counts stay integers next to the other metrics' floats
        frame = pd.DataFrame(rows, columns=["metric", "value", "threshold", "status", "baseline",
                                            "change"], dtype=object)
        frame.attrs["empty"] = "no metrics"
        return frame

    def slice_table(self, columns: list[str] | None = None, worst_first: bool = True
                    ) -> pd.DataFrame:
        """One row per slice (optionally of one slicing spec), the primary metric first.

        `status`: FAILED (a threshold the Evaluator applied failed), `below bound` (an absolute
        bound that gates only the overall slice), `one class`, `small` (not judged).
        """
        metric_names = self.metric_names
        rows = []
        for row in self.rows:
            spec = " x ".join(row["slice"]) or "overall"
            if columns is not None and list(row["slice"]) != list(columns):
                continue
            rows.append({"slice": slice_name(row["slice"]), "spec": spec,
                         "status": self.status(row),
                         **{name: row["metrics"].get(name) for name in metric_names}})
        frame = pd.DataFrame(rows, columns=["slice", "spec", "status", *metric_names])
        if worst_first and self.key in frame and len(frame):
            rank = {FAILED: 0, BELOW_BOUND: 1, "": 2, PASSED: 2, ONE_CLASS: 3, SMALL: 4}
            frame["_rank"] = frame["status"].map(rank).fillna(2)
            frame = frame.sort_values(["_rank", self.key], ascending=[True, self.higher_is_better],
                                      na_position="last", kind="stable").drop(columns="_rank")
            frame = frame.reset_index(drop=True)
        frame.attrs["empty"] = "no slices"
        frame.attrs["primary_metric"] = self.key
        return frame

    def slice_specs(self) -> list[list[str]]:
        return [list(s) for s in self.config.evaluation.slices]

    def baseline_table(self) -> pd.DataFrame | NotAvailable:
        """Candidate vs baseline per slice for the primary metric (and every metric overall)."""
        if not self.summary.get("baseline_model"):
            return NotAvailable("the Evaluator had no baseline (no earlier blessed model)")
        comparison = read_model_comparison(self.uri)
        if not comparison:
            return NotAvailable("the evaluation holds no baseline metrics")
        rows = []
        for row in self.rows:
            label = slice_name(row["slice"])
            names = self.metric_names if not row["slice"] else [self.key]
            for name in names:
                versus = comparison.get(label, {}).get(name)
                if versus is None or name not in row["metrics"]:
                    continue
                rows.append({"slice": label, "metric": name, "candidate": row["metrics"][name],
                             "baseline": versus.get("baseline"), "change": versus.get("diff"),
                             "example_count": row["metrics"].get("example_count")})
        frame = pd.DataFrame(rows, columns=["slice", "metric", "candidate", "baseline",
                                            "change", "example_count"])
        frame.attrs["empty"] = "no metric of the baseline"
        return frame


    def naive_table(self) -> pd.DataFrame | NotAvailable:
        """The model next to each naive baseline per slice, on the gated metric, with the lift
        over the best of them (in the metric's direction); overall, the key slices, then the largest
        slices first."""
        baselines = self.summary.get("baselines")
        if not baselines:
            return NotAvailable("the run has no naive baselines (it did not reach them, or "
                                "predates them)")
        metric, higher = baselines["metric"], baselines["higher_is_better"]
        naive = {slice_name(s["slice"]): s["metrics"] for s in baselines["slices"]}
        keys = [slice_name(k["slice"]) for k in self.summary.get("key_slices") or []]
        rows = []
        for row in self.rows:
            label = slice_name(row["slice"])
            values = {n: (naive.get(label, {}).get(n) or {}).get(metric)
                      for n in baselines["baselines"]}
            known = [v for v in values.values() if v is not None]
            model = row["metrics"].get(metric)
            best = (max if higher else min)(known) if known else None
            lift = None if model is None or best is None else (
                model - best if higher else best - model)
            rows.append({"slice": label, "example_count": row["metrics"].get("example_count"),
                         "model": model, **values, "lift over the best": lift,
                         "_order": (0 if not row["slice"] else 1 if label in keys else 2)})
        frame = pd.DataFrame(rows).sort_values(["_order", "example_count"],
                                               ascending=[True, False], kind="stable")
        frame = frame.drop(columns="_order")
        frame = frame.reset_index(drop=True)
        frame.attrs["empty"] = "no slice"
        frame.attrs["primary_metric"] = metric
        return frame


def load_evaluation(run) -> Evaluation | NotAvailable:
    if not run.evaluation_uri:
        reason = ("the run was halted before training" if run.outcome.startswith("halted")
                  else "the Evaluator did not run")
        return NotAvailable(reason)
    return Evaluation(run.config, run.evaluation_uri, run.summary)


_STATUS_COLOURS = {FAILED: "#f8d0d0", BELOW_BOUND: "#fde8c8", ONE_CLASS: "#eeeeee",
                   SMALL: "#f6f6f6"}


def styled(frame: pd.DataFrame):
    """A Styler with FAILED rows red and below-bound rows orange (for notebooks)."""
    if "status" not in frame:
        return frame

    def colour(row: pd.Series) -> list[str]:
        background = _STATUS_COLOURS.get(row["status"])
        return [f"background-color: {background}" if background else ""] * len(row)

    def number(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return "-"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"

    numbers = {c: number for c in frame.columns if frame[c].dtype.kind in "fO"}
    if "example_count" in frame:
        numbers["example_count"] = "{:.0f}"
    return escaped(frame.style.apply(colour, axis=1), numbers)


# ---------------------------------------------------------------------------------------------
# Notebook views: each passes a NotAvailable evaluation through, so cells need no conditions.


def overall_view(evaluation: Evaluation | NotAvailable):
    if isinstance(evaluation, NotAvailable):
        return evaluation
    return styled(evaluation.overall_table())


def slices_view(evaluation: Evaluation | NotAvailable, columns: list[str] | None = None,
                worst: int | None = 20):
    """Slices worst first (of one slicing spec, or all), FAILED red, below-bound orange."""
    if isinstance(evaluation, NotAvailable):
        return evaluation
    table = evaluation.slice_table(columns)
    if columns is None:
        table = table[table["spec"] != "overall"]
    return styled(table.head(worst) if worst else table)


def slice_figures(evaluation: Evaluation | NotAvailable) -> list:
    """One figure per configured slicing spec: the primary metric per slice."""
    if isinstance(evaluation, NotAvailable):
        return [evaluation]
    return [figures.slices_figure(evaluation.slice_table(spec), evaluation.key,
                                  evaluation.thresholds,
                          f"{evaluation.key} per slice of {' x '.join(spec)}")
            for spec in evaluation.slice_specs()]


def curves(evaluation: Evaluation | NotAvailable):
    if isinstance(evaluation, NotAvailable):
        return evaluation
    return figures.curves_figure(evaluation.uri)


def baseline_view(evaluation: Evaluation | NotAvailable):
    if isinstance(evaluation, NotAvailable):
        return evaluation
    table = evaluation.baseline_table()
    return table if isinstance(table, NotAvailable) else styled(table)


def naive_view(evaluation: Evaluation | NotAvailable):
    """The model vs its naive baselines per slice (overall and key slices first)."""
    if isinstance(evaluation, NotAvailable):
        return evaluation
    table = evaluation.naive_table()
    return table if isinstance(table, NotAvailable) else styled(table)
