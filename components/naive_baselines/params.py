"""The NaiveBaselines' settings: which task, how its baselines are evaluated, and the gate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaselineSettings:
    """`kind`: binary, multiclass or regression. `eval_config`: the TFMA EvalConfig (JSON) the
    baselines are evaluated with: one model spec per baseline (its name, `label_key` the model's
    label, `prediction_key` the baseline's name), the model's metrics and slices. The gate: the
    model's `metric` (TFMA key; `higher_is_better`) on the overall slice must exceed the best
    baseline's by more than `min_lift` (in the metric's direction), the best of those named
    in `gated` (empty: of every baseline fitted)."""

    kind: str
    eval_config: str
    metric: str
    higher_is_better: bool = True
    min_lift: float = 0.0
    gated: tuple[str, ...] = ()
    # TFMA metric classes computed on every slice (the rest overall only); empty: every one.
    sliced_metrics: tuple[str, ...] = ()
