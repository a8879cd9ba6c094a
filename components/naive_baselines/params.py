"""The settings of the naive baselines' two components: how they are scored, and the gate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreSettings:
    """BaselineScores': `kind`: binary, multiclass or regression. `eval_config`: the TFMA
    EvalConfig (JSON) the baselines are evaluated with: one model spec per baseline (its name,
    `label_key` the model's label, `prediction_key` the baseline's name), the model's metrics
    and slices. `sliced_metrics`: TFMA metric classes computed on every slice (the rest overall
    only); empty: every one."""

    kind: str
    eval_config: str
    sliced_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaselineSettings:
    """NaiveBaselines' (the lift gate's): the model's `metric` (TFMA key; `higher_is_better`)
    on the overall slice must exceed the best baseline's by more than `min_lift` (in the
    metric's direction) and, for AUC and accuracy, by more than `chance_margin` standard
    errors of the metric by chance on the eval split (verdict.py), the best of those named in
    `gated` (empty: of every baseline fitted)."""

    metric: str
    higher_is_better: bool = True
    min_lift: float = 0.0
    gated: tuple[str, ...] = ()
    chance_margin: float = 0.0
