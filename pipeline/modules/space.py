"""The search space of [tuning.space] as KerasTuner hyperparameters, and their values applied
to the model's settings: shared by the Tuner module (which defines and samples them) and the
Trainer module (which trains with the best ones it is given).

No KerasTuner import: `define` takes a `keras_tuner.HyperParameters` and calls its methods, so
the Trainer does not load KerasTuner.
"""

from __future__ import annotations

from typing import Any

# The [model] settings the space can set, in the order they are defined.
NAMES = ("learning_rate", "l2", "dropout", "hidden_units", "batch_size", "embedding_dim")
RANGES = ("learning_rate", "l2", "dropout")


def units_text(units: list[int]) -> str:
    """A hidden_units choice as a KerasTuner choice value (which must be a scalar): "64,32"."""
    return ",".join(str(int(u)) for u in units)


def define(hp: Any, space: dict[str, Any]) -> None:
    """Adds every hyperparameter `space` ([tuning.space] as a dict) sets to `hp`."""
    for name in NAMES:
        value = space.get(name)
        if not value:
            continue
        if name in RANGES:
            step = float(value.get("step") or 0.0) or None
            hp.Float(name, float(value["min"]), float(value["max"]), step=step,
                     sampling="log" if value.get("log") else "linear")
        elif name == "hidden_units":
            hp.Choice(name, [units_text(units) for units in value])
        else:
            hp.Choice(name, [int(v) for v in value])


def tuned_values(hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    """The model settings a KerasTuner HyperParameters config (the Tuner's best_hyperparameters,
    as the Trainer gets it) sets, in [model]'s types; {} without one. Tuner bookkeeping values
    (`tuner/epochs`, ...) are left out."""
    values = (hyperparameters or {}).get("values") or {}
    tuned: dict[str, Any] = {}
    for name in NAMES:
        if name not in values:
            continue
        value = values[name]
        if name == "hidden_units":
            tuned[name] = [int(u) for u in str(value).split(",") if u]
        elif name in RANGES:
            tuned[name] = float(value)
        else:
            tuned[name] = int(value)
    return tuned


def apply(settings: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """[model]'s settings with the tuned values in place of the configured ones."""
    return {**settings, **tuned}
