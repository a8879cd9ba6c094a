"""The one rule that blesses an optimized variant, shared by both evaluation paths.

The pruned SavedModel is evaluated by TFMA (candidate and dense baseline in one run), the TFLite
models by the TFLite interpreter; both paths reduce their results to `SliceComparison`s (the
dense and the variant value of each metric on each slice) and call `judge`, so they produce the
same delta rows and apply the same rule:

- a metric on a slice is *judged* when the slice has at least `min_examples` examples and the
  metric is defined for both models there; a ranking metric (AUC, PR-AUC) of a binary label
  also needs `min_class_examples` of each class (with one positive among 2,000 negatives, AUC is
  the rank of one example: a coin toss between two models, not a measure of either);
- the variant is blessed when no judged (metric, slice) loses more than the metric's tolerance
  against the dense model (the overall slice is judged like any other: it is never too small),
  and every metric was judged overall: an eval split too small to judge a metric overall (too
  few of a class for AUC) is no evidence that the variant is as good, so it is not blessed;
- slices that are not judged are still reported, row by row, with the reason (`note`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from components.shared.tfma_metrics import slice_name

# Metrics that need both classes in a slice (ranking metrics: undefined with one class).
NEED_BOTH_CLASSES = {"auc", "auc_pr"}
_EPSILON = 1e-9  # float noise: a loss exactly at the tolerance passes


@dataclass(frozen=True)
class MetricRule:
    name: str                 # the config's name: auc, accuracy, mse, ...
    tolerance: float          # largest allowed loss against the dense model
    higher_is_better: bool
    tfma_key: str = ""        # its key in TFMA's results (the pruned model's evaluation)


@dataclass
class SliceComparison:
    slice: dict[str, Any]                         # {} is the overall slice
    example_count: int
    dense: dict[str, float | None]
    variant: dict[str, float | None]
    label_mean: float | None = None               # binary: positive rate; else None


@dataclass
class Verdict:
    blessed: bool
    reason: str
    deltas: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    judged_slices: int = 0
    small_slices: int = 0


def _sort_key(row: SliceComparison) -> tuple:
    return (len(row.slice), json.dumps(row.slice, sort_keys=True, default=str))


def _defined(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _class_counts(comparison: SliceComparison) -> tuple[int, int] | None:
    """(negatives, positives) of a binary slice, from its positive rate; None otherwise."""
    if comparison.label_mean is None:
        return None
    positives = int(round(comparison.label_mean * comparison.example_count))
    return comparison.example_count - positives, positives


def judge(comparisons: list[SliceComparison], rules: list[MetricRule],
          min_examples: int, min_class_examples: int = 1) -> Verdict:
    rows, failures = [], []
    judged_slices, small_slices = set(), set()
    for comparison in sorted(comparisons, key=_sort_key):
        key = json.dumps(comparison.slice, sort_keys=True, default=str)
        overall = not comparison.slice
        large = overall or comparison.example_count >= min_examples
        (judged_slices if large else small_slices).add(key)
        classes = _class_counts(comparison)
        few = classes is not None and min(classes) < max(min_class_examples, 1)
        for rule in rules:
            dense = comparison.dense.get(rule.name)
            variant = comparison.variant.get(rule.name)
            defined = _defined(dense) and _defined(variant)
            delta = variant - dense if defined else None
            note = ""
            if not large:
                note = f"fewer than {min_examples} examples: reported, not judged"
            elif rule.name in NEED_BOTH_CLASSES and few:
                note = (f"{classes[1]} positive and {classes[0]} negative examples (fewer than "
                        f"{max(min_class_examples, 1)} of a class): reported, not judged")
            elif not defined:
                note = "undefined for this slice: not judged"
            judged = not note
            loss = (-delta if rule.higher_is_better else delta) if delta is not None else None
            passed = (not judged) or loss <= rule.tolerance + _EPSILON
            row = {"slice": comparison.slice, "metric": rule.name,
                   "dense": dense if _defined(dense) else None,
                   "variant": variant if _defined(variant) else None,
                   "delta": delta, "example_count": int(comparison.example_count),
                   "judged": judged, "passed": passed, "tolerance": rule.tolerance,
                   "note": note}
            rows.append(row)
            if not passed:
                failures.append(row)
    unjudged = [row for row in rows if not row["slice"] and not row["judged"]]
    verdict = Verdict(blessed=not failures and not unjudged, reason="", deltas=rows,
                      failures=failures, judged_slices=len(judged_slices),
                      small_slices=len(small_slices))
    verdict.reason = _reason(verdict, rules, min_examples, unjudged)
    return verdict


def _reason(verdict: Verdict, rules: list[MetricRule], min_examples: int,
            unjudged: list[dict[str, Any]]) -> str:
    small = (f"; {verdict.small_slices} slices under {min_examples} examples reported, "
             "not judged" if verdict.small_slices else "")
    if not verdict.failures and unjudged:
        row = unjudged[0]
        return (f"{row['metric']} could not be judged overall ({row['note'].split(':')[0]}): "
                "no evidence that the variant is as good as the dense model" + small)
    if verdict.blessed:
        limits = ", ".join(f"{r.name} loss <= {r.tolerance:g}" for r in rules)
        return (f"within tolerance ({limits}) overall and on all {verdict.judged_slices - 1} "
                f"judged slices{small}")
    higher = {r.name: r.higher_is_better for r in rules}

    def excess(row: dict[str, Any]) -> float:
        loss = -row["delta"] if higher[row["metric"]] else row["delta"]
        return loss - row["tolerance"]

    worst = max(verdict.failures, key=excess)
    more = len(verdict.failures) - 1
    return (f"{worst['metric']} {worst['delta']:+.4f} on {slice_name(worst['slice'])} "
            f"(n={worst['example_count']}) exceeds the tolerance {worst['tolerance']:g}"
            + (f" (and {more} more failures)" if more else "") + small)
