"""The lift gate: the model's gated metric on the overall slice against the best baseline's.

lift = model - best baseline when higher is better, best baseline - model when lower is;
the gate passes when lift > min_lift and, where the metric's spread by chance on the eval split
is known, lift > `chance_margin` standard errors of it: on 500 eval rows a model of pure noise
has an AUC above 0.5 half of the time, by about 0.025 (one standard error). A metric that is
undefined (None) for the model or for every baseline is not judged: the Evaluator's verdict
stands alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

_NOISE = 1e-9
# The gated metrics whose standard error by chance is known: AUC (that of a model that does not
# discriminate: the Mann-Whitney statistic's under no difference), and accuracy (a proportion's,
# at the best baseline's accuracy).
AUC, ACCURACIES = "auc", ("binary_accuracy", "sparse_categorical_accuracy")


def chance_error(metric: str, best_value: float, counts: dict[str, Any]) -> float | None:
    """The standard error of `metric` by chance on the eval split (`counts`: a baseline's
    overall metrics, with `example_count` and a binary label's `mean_label`), None when not
    known for the metric or undefined (a split with one class)."""
    rows = counts.get("example_count")
    if not rows:
        return None
    if metric == AUC and counts.get("mean_label") is not None:
        positives = round(rows * counts["mean_label"])
        negatives = rows - positives
        if positives <= 0 or negatives <= 0:
            return None
        return math.sqrt((rows + 1) / (12.0 * positives * negatives))
    if metric in ACCURACIES and 0.0 <= best_value <= 1.0:
        return math.sqrt(best_value * (1.0 - best_value) / rows)
    return None


@dataclass(frozen=True)
class Chance:
    """How many standard errors by chance the lift must exceed (`margin`; 0: none), of which
    `metric` (a TFMA key), on the eval split that `counts` (a baseline's overall metrics)
    describe."""

    margin: float = 0.0
    metric: str = ""
    counts: dict[str, Any] = field(default_factory=dict)


def lift_verdict(model_value: float | None, baselines: dict[str, float | None],
                 higher_is_better: bool, min_lift: float, chance: Chance = Chance()
                 ) -> dict[str, Any]:
    """{best_baseline, best_value, lift, required, chance_error, passed (None when not
    judged)}."""
    known = {name: value for name, value in baselines.items() if value is not None}
    if model_value is None or not known:
        return {"best_baseline": None, "best_value": None, "lift": None, "required": None,
                "chance_error": None, "passed": None}
    pick = max if higher_is_better else min
    best = pick(known, key=lambda name: known[name])
    lift = (model_value - known[best]) if higher_is_better else (known[best] - model_value)
    error = (chance_error(chance.metric, known[best], chance.counts) if chance.margin > 0
             else None)
    required = max(min_lift, chance.margin * error) if error is not None else min_lift
    return {"best_baseline": best, "best_value": known[best], "lift": lift,
            "required": required, "chance_error": error,
            "passed": bool(lift > required + _NOISE)}
