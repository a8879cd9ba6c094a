"""Per-slice metrics of predictions made outside TFMA (the TFLite interpreter's), computed the
way the pipeline's EvalConfig defines them, on the same slices.

- Slices: the overall slice plus, per slicing spec (a list of raw columns), one slice per value
  combination; an example without a value for a column is in no slice of that spec, as in TFMA.
  Values keep their type: int64 -> int, float -> float, bytes -> str.
- Binary: `auc` is the exact ROC AUC (ties count one half; TFMA approximates it with the 1,000
  thresholds of `pipeline/eval_config.py`), `auc_pr` the average precision, and `accuracy`,
  `precision`, `recall`, `f1` at the decision threshold (score > threshold is positive).
- Multiclass: `accuracy` (argmax), `log_loss`. Regression: `mse`, `mae`, `rmse`.
A metric that is undefined on a slice (AUC with one class, precision with no positive
prediction) is None.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from components.variant_evaluator.judgement import SliceComparison


def example_values(example: Any) -> dict[str, list[Any]]:
    """{column: [values]} of a tf.train.Example; bytes are decoded as UTF-8."""
    values: dict[str, list[Any]] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind is None:
            continue
        raw = list(getattr(feature, kind).value)
        if kind == "bytes_list":
            raw = [v.decode("utf-8", "replace") for v in raw]
        elif kind == "int64_list":
            raw = [int(v) for v in raw]
        else:
            raw = [float(v) for v in raw]
        values[name] = raw
    return values


def slice_index(rows: list[dict[str, list[Any]]], specs: list[list[str]]
                ) -> dict[str, tuple[dict[str, Any], list[int]]]:
    """{slice id: (slice key, example indices)}; the overall slice ({}) holds every example."""
    index: dict[str, tuple[dict[str, Any], list[int]]] = {"{}": ({}, list(range(len(rows))))}
    for spec in specs:
        columns = sorted(spec)
        for i, row in enumerate(rows):
            if not all(row.get(c) for c in columns):
                continue
            for combination in itertools.product(*(row[c] for c in columns)):
                key = dict(zip(columns, combination, strict=True))
                slice_id = json.dumps(key, sort_keys=True)
                index.setdefault(slice_id, (key, []))[1].append(i)
    return index


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    # 1-based ranks, ties sharing their average rank.
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def _average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    positives = int(labels.sum())
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # One point per distinct score: everything at or above it is predicted positive.
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(sorted_scores) - 1]
    true_positives = np.cumsum(sorted_labels)[last]
    predicted = last + 1
    precision = true_positives / predicted
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float
                   ) -> dict[str, float | None]:
    labels = labels.astype(np.int64).ravel()
    scores = scores.astype(np.float64).ravel()
    predicted = scores > threshold
    tp = float(np.sum(predicted & (labels == 1)))
    fp = float(np.sum(predicted & (labels == 0)))
    fn = float(np.sum(~predicted & (labels == 1)))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall > 0 else None)
    return {"auc": _auc(labels, scores), "auc_pr": _average_precision(labels, scores),
            "accuracy": _ratio(float(np.sum(predicted == (labels == 1))), len(labels)),
            "precision": precision, "recall": recall, "f1": f1}


def multiclass_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float | None]:
    labels = labels.astype(np.int64).ravel()
    if len(labels) == 0:
        return {"accuracy": None, "log_loss": None}
    picked = probabilities[np.arange(len(labels)), np.clip(labels, 0, probabilities.shape[1] - 1)]
    return {"accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels)),
            "log_loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))}


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float | None]:
    errors = predictions.astype(np.float64).ravel() - labels.astype(np.float64).ravel()
    if len(errors) == 0:
        return {"mse": None, "mae": None, "rmse": None}
    mse = float(np.mean(errors ** 2))
    return {"mse": mse, "mae": float(np.mean(np.abs(errors))), "rmse": math.sqrt(mse)}


def metrics(kind: str, labels: np.ndarray, predictions: np.ndarray, threshold: float
            ) -> dict[str, float | None]:
    if kind == "binary":
        return binary_metrics(labels, predictions, threshold)
    if kind == "multiclass":
        return multiclass_metrics(labels, predictions)
    return regression_metrics(labels, predictions)


def compare(kind: str, threshold: float, labels: np.ndarray, dense: np.ndarray,
            variant: np.ndarray, index: dict[str, tuple[dict[str, Any], list[int]]],
            names: Iterable[str]) -> list[SliceComparison]:
    """A SliceComparison per slice, with the metrics in `names` for both models."""
    names = list(names)
    comparisons = []
    for key, members in index.values():
        rows = np.asarray(members, dtype=np.int64)
        slice_labels = labels[rows]
        dense_values = metrics(kind, slice_labels, dense[rows], threshold)
        variant_values = metrics(kind, slice_labels, variant[rows], threshold)
        comparisons.append(SliceComparison(
            slice=key, example_count=len(rows),
            dense={n: dense_values.get(n) for n in names},
            variant={n: variant_values.get(n) for n in names},
            label_mean=float(slice_labels.mean()) if kind == "binary" and len(rows) else None))
    return comparisons
