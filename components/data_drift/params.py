"""The label as the data gates measure its drift: which function computes it, from which raw
columns, how it reads, and how far it may move between spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabelSpec:
    """`function` is the import path of the user function that computes the label from raw
    columns, as the model sees it: `function(inputs, config)`, where `inputs` maps each of
    `columns` to a sparse tensor of its raw values (tf.io.VarLenFeature, typed as the schema
    says) and `config` is passed as given. It returns a [batch, 1] tensor: 0/1 for a binary
    label, the class text for a multiclass one, a float (NaN when missing) for regression."""

    function: str
    columns: tuple[str, ...]
    kind: str                                  # binary, multiclass or regression
    drift_threshold: float                     # L-infinity (classes), mean shift (regression)
    rule: str = ""                             # readable, e.g. "tips > 0.2 * fare"
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def categorical(self) -> bool:
        return self.kind in ("binary", "multiclass")


@dataclass(frozen=True)
class MinimumExamples:
    """How much data a measurement needs to be judged (can halt): on a few rows, comparators
    measure sampling noise. Below it the value is recorded, marked not judged, with the reason."""

    drift: int = 0   # examples in both the span and the previous span
    skew: int = 0    # examples in both the window's train and eval splits
