"""The naive baselines, fitted on the train split: what a trivial rule scores on this data.

- binary: `prior`, the training share of the positive class as a constant score (the
  prior-probability predictor: its decisions are the majority class's, its AUC 0.5), and
  `logistic`, a logistic regression on the model's transformed features;
- multiclass: `prior`, the training class shares as constant probabilities (its decisions:
  always the majority class), and `logistic` (multinomial);
- regression: `mean` and `median`, the training label's, as constant predictions.

Transformed float features are scaled, integer ones (vocabulary ids, buckets) one-hot encoded,
so the logistic regression works on numeric-only, categorical-only and bucketized data alike.
It is left out when the training labels hold a single class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Every baseline a task can have (the logistic regression is left out on single-class labels).
BASELINE_NAMES = {"binary": ("prior", "logistic"), "multiclass": ("prior", "logistic"),
                  "regression": ("mean", "median")}
Features = dict[str, np.ndarray]  # transformed feature -> [rows, ...]


@dataclass
class Baseline:
    name: str
    description: str
    predict: Callable[[Features, int], np.ndarray]  # (features, rows) -> predictions


def fit_baselines(kind: str, features: Features, label: np.ndarray, classes: list[str]
                  ) -> list[Baseline]:
    """The baselines of `kind` fitted on training `features` and `label` (binary: 0/1,
    multiclass: class index into `classes`, regression: the target)."""
    if kind == "regression":
        return [_constant("mean", float(np.mean(label)), "the training mean"),
                _constant("median", float(np.median(label)), "the training median")]
    count = max(len(classes), int(label.max()) + 1 if len(label) else 0, 2)
    shares = np.bincount(label.astype(np.int64), minlength=count) / max(len(label), 1)
    baselines = [_prior(kind, shares, classes)]
    if len(np.unique(label)) > 1:
        baselines.append(_logistic(kind, features, label, count))
    return baselines


def _constant(name: str, value: float, what: str) -> Baseline:
    return Baseline(name, f"{what}, {value:.4g}, for every row",
                    lambda _features, rows: np.full(rows, value, np.float32))


def _prior(kind: str, shares: np.ndarray, classes: list[str]) -> Baseline:
    if kind == "binary":
        return Baseline("prior", f"the training share of class 1, {shares[1]:.4f}, as a "
                        "constant score (the majority class's decisions)",
                        lambda _features, rows: np.full(rows, shares[1], np.float32))
    top = int(np.argmax(shares))
    name = classes[top] if top < len(classes) else str(top)
    return Baseline("prior", f"the training class shares as constant probabilities "
                    f"(always '{name}', {shares[top]:.1%})",
                    lambda _features, rows: np.tile(shares.astype(np.float32), (rows, 1)))


def design(features: Features) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """(float columns, integer columns, every column as [rows]): multi-valued features are
    split into one column per position."""
    columns: dict[str, np.ndarray] = {}
    for name in sorted(features):
        values = np.asarray(features[name])
        values = values.reshape(len(values), -1)
        for position in range(values.shape[1]):
            columns[name if values.shape[1] == 1 else f"{name}[{position}]"] = values[:, position]
    floats = [c for c, v in columns.items() if v.dtype.kind == "f"]
    integers = [c for c, v in columns.items() if v.dtype.kind in "iub"]
    return floats, integers, columns


def _logistic(kind: str, features: Features, label: np.ndarray, count: int) -> Baseline:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    floats, integers, columns = design(features)
    encoder = ColumnTransformer([("floats", StandardScaler(), floats),
                                 ("ids", OneHotEncoder(handle_unknown="ignore"), integers)])
    model = make_pipeline(encoder, LogisticRegression(max_iter=1000))
    model.fit(pd.DataFrame({c: columns[c] for c in floats + integers}), label)
    seen = model.classes_.astype(np.int64)

    def predict(rows_features: Features, rows: int) -> np.ndarray:
        _, _, eval_columns = design(rows_features)
        frame = pd.DataFrame({c: eval_columns[c] for c in floats + integers})
        probabilities = np.zeros((rows, count), np.float32)
        probabilities[:, seen] = model.predict_proba(frame)
        return probabilities[:, 1] if kind == "binary" else probabilities

    return Baseline("logistic", f"a logistic regression (scikit-learn, L2) on the "
                    f"{len(features)} transformed feature(s)", predict)
