"""TFMA 0.47.1's per-row metric combiners in closed form: a slice's accumulator built from the
slice's rows at once with numpy, where the combiner is one this module knows.

TFMA evaluates an example once per slice it falls in and, per slice, runs every combiner's
Python on it. Where the inputs are one label and one score per row and model, some combiners
have a closed form over a set of rows; each builds **TFMA's own accumulator**, which the
combiner then merges and turns into metrics itself:
- the example count (unweighted): the number of rows;
- the calibration histogram (under AUC, AUC-PR, their confusion matrices and the plots; labels
  0 or 1): per bucket of the score (TFMA's bucket formula, in float64 as TFMA computes it), the
  count of rows, the sum of labels and the sum of scores;
- the mean squared and mean absolute errors: each row's error in the dtypes TFMA computes it
  in, summed;
- the sums of labels, scores and rows (under calibration and the mean label);
- the binary confusion matrices at given thresholds (under precision, recall, F1 and accuracy
  at the decision threshold): the rows counted per threshold.

`accumulating` answers None for anything else: a combiner not listed (the Keras-wrapped ones:
multiclass accuracy, RMSE), example ids, weighted or per-class metrics, labels not finite or
(for the histogram and fractional labels) not 0 or 1, scores not finite. Sums of non-integers
may differ from TFMA's in the last bits: TFMA adds them row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TFMA_VERSION = "0.47.1"

Accumulate = Callable[[np.ndarray], Any]  # a slice's row indices -> TFMA's accumulator


def computations(eval_config: Any, metrics_specs: list[Any], schema: Any = None) -> Any:
    """TFMA's metric computations for `metrics_specs` (of `eval_config`, TFMA's defaults
    applied), separated as TFMA's evaluator separates them; None where no data could let the
    closed forms answer them a slice at a time: another TFMA version, cross-slice specs or
    computations, confidence intervals, a minimum slice size (TFMA filters from 2 on), query
    keys."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev
    from tensorflow_model_analysis.metrics import metric_specs

    options = eval_config.options
    if (tfma.__version__ != TFMA_VERSION or eval_config.cross_slicing_specs
            or options.compute_confidence_intervals.value or options.min_slice_size.value > 1
            or any(spec.query_key for spec in metrics_specs)):
        return None
    separated = ev._filter_and_separate_computations(  # pylint: disable=protected-access
        metric_specs.to_computations(metrics_specs, eval_config=eval_config, schema=schema))
    if separated.cross_slice_computations or separated.ci_derived_computations:
        return None
    return separated


def accumulating(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                 ) -> Accumulate | None:
    """The closed form of TFMA's `combiner` over a slice's rows, or None. `label` and `scores`
    (by model name) are typed as in the RecordBatch TFMA would read: int64 or float32 labels,
    float32 scores, one per row."""
    from tensorflow_model_analysis.metrics import (
        binary_confusion_matrices,
        calibration,
        calibration_histogram,
        example_count,
        mean_regression_error,
    )

    closed_forms = {
        example_count._ExampleCountCombiner: _count,  # pylint: disable=protected-access
        calibration_histogram._CalibrationHistogramCombiner: _histogram,  # pylint: disable=protected-access
        mean_regression_error._MeanSquaredErrorCombiner: _regression_error,  # pylint: disable=protected-access
        mean_regression_error._MeanAbsoluteErrorCombiner: _regression_error,  # pylint: disable=protected-access
        calibration._WeightedLabelsPredictionsExamplesCombiner: _sums,  # pylint: disable=protected-access
        binary_confusion_matrices._BinaryConfusionMatrixCombiner: _confusion_matrices,  # pylint: disable=protected-access
    }
    closed_form = closed_forms.get(type(combiner))  # the very class: a subclass may differ
    settings = vars(combiner)
    if closed_form is None or settings.get("_example_weighted") \
            or settings.get("_aggregation_type") or settings.get("_class_weights"):
        return None
    return closed_form(combiner, label, scores)


def _count(_combiner: Any, _label: np.ndarray, _scores: dict[str, np.ndarray | None]
           ) -> Accumulate:
    """TFMA's unweighted example count: the number of rows."""
    return lambda rows: np.float64(len(rows))


def _scores_of(key: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
               ) -> np.ndarray | None:
    """The scores of `key`'s model, as float64; None for a model output, a class or a top-k of
    it, a model without scores or labels that are not finite."""
    values = scores.get(key.model_name)
    if values is None or key.output_name or key.sub_key is not None \
            or not np.isfinite(label).all():
        return None
    return values.astype(np.float64)


def _histogram(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
               ) -> Accumulate | None:
    """TFMA's calibration histogram: per bucket of the score, the count of rows, the sum of
    their labels and of their scores (labels 0 or 1 only)."""
    from tensorflow_model_analysis.metrics import calibration_histogram

    settings = vars(combiner)
    values = _scores_of(settings["_key"], label, scores)
    labels = label.astype(np.float64)
    if (values is None or not settings["_prediction_based_bucketing"]
            or not np.isin(labels, (0.0, 1.0)).all()):
        return None
    buckets = bucket_indices(values, settings["_left"], settings["_range"],
                             settings["_num_buckets"])
    size = settings["_num_buckets"] + 2

    def accumulate(rows: np.ndarray) -> dict[int, Any]:
        index, score = buckets[rows], values[rows]
        examples = np.bincount(index, minlength=size)
        summed = np.bincount(index, weights=labels[rows], minlength=size)
        predicted = np.bincount(index, weights=score, minlength=size)
        return {int(b): calibration_histogram.Bucket(int(b), float(summed[b]),
                                                     float(predicted[b]), float(examples[b]))
                for b in np.flatnonzero(examples)}

    return accumulate


def _regression_error(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                      ) -> Accumulate | None:
    """TFMA's mean squared or absolute error: its per-row error in the dtype numpy gives the
    label minus the score (the norm of one value, squared, or its absolute value), summed."""
    from tensorflow_model_analysis.metrics import mean_regression_error

    key = vars(combiner)["_metric_key"]
    if _scores_of(key, label, scores) is None:
        return None
    difference = label - scores[key.model_name]
    if isinstance(combiner, mean_regression_error._MeanSquaredErrorCombiner):  # pylint: disable=protected-access
        errors = np.sqrt(difference * difference).astype(np.float64) ** 2
    else:
        errors = np.absolute(difference).astype(np.float64)

    return _summing(combiner, {"total_regression_error": errors}, "total_example_weights")


def _sums(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
          ) -> Accumulate | None:
    """TFMA's weighted labels, predictions and examples (under calibration, mean label and mean
    prediction): their sums over the rows, each row's weight 1."""
    values = _scores_of(vars(combiner)["_key"], label, scores)
    if values is None:
        return None
    return _summing(combiner, {"total_weighted_labels": label.astype(np.float64),
                               "total_weighted_predictions": values},
                    "total_weighted_examples")


def _summing(combiner: Any, columns: dict[str, np.ndarray], count: str) -> Accumulate:
    """TFMA's accumulator of `combiner` with each field in `columns` the sum of its per-row
    values over the slice's rows, and `count` the number of rows (each row's weight 1)."""

    def accumulate(rows: np.ndarray) -> Any:
        accumulator = combiner.create_accumulator()
        for field, values in columns.items():
            setattr(accumulator, field, float(np.sum(values[rows])))
        setattr(accumulator, count, float(len(rows)))
        return accumulator

    return accumulate


def _confusion_matrices(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                        ) -> Accumulate | None:
    """TFMA's binary confusion matrices at given thresholds (under precision, recall, F1 and
    accuracy at the decision threshold): per threshold, the rows counted as TFMA counts them (a
    score above the threshold is positive; with fractional labels, only labels 0 and 1)."""
    from tensorflow_model_analysis.contrib.aggregates import binary_confusion_matrices as bcm
    from tensorflow_model_analysis.metrics import metric_util

    settings = vars(combiner)
    values = _scores_of(settings["_key"], label, scores)
    extract = settings["_extract_label_prediction_and_weight"]
    stock = metric_util.to_label_prediction_example_weight
    fractional = settings["_enable_fractional_labels"]
    labels = label.astype(np.float64)
    if (values is None or settings["_example_id_key"]
            or extract not in (stock, getattr(stock, "original", None))
            or (fractional and not np.isin(labels, (0.0, 1.0)).all())):
        return None
    thresholds = list(vars(settings["_binary_confusion_matrices"])["_thresholds"])

    def accumulate(rows: np.ndarray) -> dict[float, Any]:
        score, truth = values[rows], labels[rows]
        accumulator = {}
        for threshold in thresholds:
            positive = truth == 1.0 if fractional else truth > threshold
            above = score > threshold
            matrix = bcm.Matrix(tp=float(np.sum(positive & above)),
                                tn=float(np.sum(~positive & ~above)),
                                fp=float(np.sum(~positive & above)),
                                fn=float(np.sum(positive & ~above)))
            accumulator[threshold] = bcm._ThresholdEntry(matrix, [], [], [], [])  # pylint: disable=protected-access
        return accumulator

    return accumulate


def bucket_indices(scores: np.ndarray, left: float, width: float, count: int) -> np.ndarray:
    """TFMA's `_bucket_index` of each score: ((score - left) / width * count) + 1 in float64,
    truncated, below 0 -> 0, from count + 1 on -> count + 1."""
    index = (scores - left) / width * count + 1
    clipped = np.where(index < 0, 0.0, np.where(index >= count + 1, count + 1, index))
    return np.trunc(clipped).astype(np.int64)
