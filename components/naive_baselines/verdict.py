"""The lift gate: the model's gated metric on the overall slice against the best baseline's.

lift = model - best baseline when higher is better, best baseline - model when lower is;
the gate passes when lift > min_lift. A metric that is undefined (None) for the model or for
every baseline is not judged: the Evaluator's verdict stands alone.
"""

from __future__ import annotations

from typing import Any

_NOISE = 1e-9


def lift_verdict(model_value: float | None, baselines: dict[str, float | None],
                 higher_is_better: bool, min_lift: float) -> dict[str, Any]:
    """{best_baseline, best_value, lift, passed (None when not judged)}."""
    known = {name: value for name, value in baselines.items() if value is not None}
    if model_value is None or not known:
        return {"best_baseline": None, "best_value": None, "lift": None, "passed": None}
    pick = max if higher_is_better else min
    best = pick(known, key=lambda name: known[name])
    lift = (model_value - known[best]) if higher_is_better else (known[best] - model_value)
    return {"best_baseline": best, "best_value": known[best], "lift": lift,
            "passed": bool(lift > min_lift + _NOISE)}
