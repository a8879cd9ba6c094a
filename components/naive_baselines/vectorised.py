"""TFMA's own metric computations for the baselines' scores, their per-row step done for a whole
slice at once with numpy, where TFMA 0.47.1's combiner is one this module knows.

TFMA evaluates an example once per slice it falls in, and per slice runs every combiner's
Python on it: that was most of BaselineScores' time (docs/performance.md, "NaiveBaselines").
The baselines' inputs are this component's own: a label and one score per row and model. For
those, some combiners have a closed form over a slice's rows:
- the example count (unweighted): the number of rows;
- the calibration histogram (under AUC, AUC-PR and their confusion matrices; labels 0 or 1):
  per bucket of the score (TFMA's bucket formula, in float64 as TFMA computes it), the count of
  rows, the sum of labels and the sum of scores;
- the mean squared and mean absolute errors: each row's error in the dtypes TFMA computes it
  in, summed;
- the sums of labels, scores and rows (under calibration and the mean label);
- the binary confusion matrices at given thresholds (under precision, recall, F1 and accuracy
  at the decision threshold): the rows counted per threshold.
Everything after them is TFMA's code: its computations and their order
(`metric_specs.to_computations`), its slices (`slicer`, on each distinct combination of the
slice columns' values), its derived metrics (confusion matrices, AUC) and its conversion to
`MetricsForSlice`. So the figures are TFMA's: the test compares every slice's metrics with a
TFMA pipeline on the same rows.

`evaluate` answers None, and the caller runs TFMA's pipeline, for anything else: another TFMA
version, a combiner not listed (the Keras-wrapped ones: multiclass accuracy, RMSE), example ids,
weighted or per-class metrics, labels not finite or (for the histogram and fractional labels)
not 0 or 1, scores not one per row or not finite, cross-slice specs, confidence intervals, a
minimum slice size. Sums of non-integers may differ from TFMA's in the last bits: TFMA adds
partial sums in the order Beam merges them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa

TFMA_VERSION = "0.47.1"

Slice = tuple  # TFMA's slice key: ((column, value), ...); () is the overall slice


def evaluate(eval_config: Any, label: np.ndarray, scores: dict[str, np.ndarray],
             columns: dict[str, pa.Array]) -> list[Any] | None:
    """Every slice's MetricsForSlice of the models in `eval_config` (each model's scores in
    `scores` under its name; `columns`: the raw slice columns), or None where TFMA's own
    pipeline must run (the module docstring)."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev
    from tensorflow_model_analysis.metrics import metric_specs, metric_types
    from tensorflow_model_analysis.utils import config_util
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as writer

    options = eval_config.options
    if (tfma.__version__ != TFMA_VERSION or eval_config.cross_slicing_specs
            or options.compute_confidence_intervals.value or options.min_slice_size.value):
        return None
    config = config_util.update_eval_config_with_defaults(eval_config)
    computations = ev._filter_and_separate_computations(  # pylint: disable=protected-access
        metric_specs.to_computations(config.metrics_specs, eval_config=config))
    if computations.cross_slice_computations or computations.ci_derived_computations:
        return None
    typed = np.asarray(label).reshape(-1)
    typed = typed.astype(np.float32 if typed.dtype.kind == "f" else np.int64)
    values = {name: _scores(array, len(typed)) for name, array in scores.items()}
    combiners = [_vectorised(c.combiner, typed, values)
                 for c in computations.non_derived_computations]
    if not combiners or any(c is None for c in combiners):
        return None
    records = []
    for key, rows in slice_rows(config.slicing_specs, columns, len(typed)).items():
        metrics: dict[Any, Any] = {}
        for combine in combiners:
            metrics.update(combine(rows))
        for derived in computations.derived_computations:
            metrics.update(derived.result(metrics))
        # TFMA's metrics output: its metric keys (not plots), not the private ones
        _, metrics = ev._filter_by_key_type((key, metrics), metric_types.MetricKey)  # pylint: disable=protected-access
        metrics = {k: v for k, v in metrics.items() if not ev._is_private_metrics(k)}  # pylint: disable=protected-access
        records.append(writer.convert_slice_metrics_to_proto((key, metrics), None))
    return records


def _scores(array: np.ndarray, rows: int) -> np.ndarray | None:
    """One float32 score per row, as the RecordBatch carries it; None otherwise."""
    array = np.asarray(array)
    if array.size != rows or (array.ndim > 1 and array.shape[-1] != 1):
        return None
    values = array.reshape(-1).astype(np.float32)
    return values if np.isfinite(values).all() else None


Combine = Callable[[np.ndarray], dict[Any, Any]]  # a slice's row indices -> outputs


def _vectorised(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                ) -> Combine | None:
    """The closed form of TFMA's `combiner` over a slice's rows, or None. `label` and `scores`
    are typed as in the RecordBatch TFMA would read (int64 or float32 labels, float32
    scores)."""
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


def _count(combiner: Any, _label: np.ndarray, _scores: dict[str, np.ndarray | None]
           ) -> Combine:
    """TFMA's unweighted example count: the number of rows."""
    return lambda rows: combiner.extract_output(np.float64(len(rows)))


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
               ) -> Combine | None:
    """TFMA's calibration histogram: per bucket of the score, the count of rows, the sum of
    their labels and of their scores (labels 0 or 1 only)."""
    from tensorflow_model_analysis.metrics import calibration_histogram

    settings = vars(combiner)
    key = settings["_key"]
    values = _scores_of(key, label, scores)
    labels = label.astype(np.float64)
    if (values is None or not settings["_prediction_based_bucketing"]
            or not np.isin(labels, (0.0, 1.0)).all()):
        return None
    buckets = bucket_indices(values, settings["_left"], settings["_range"],
                             settings["_num_buckets"])
    size = settings["_num_buckets"] + 2

    def combine(rows: np.ndarray) -> dict[Any, Any]:
        index, score = buckets[rows], values[rows]
        examples = np.bincount(index, minlength=size)
        summed = np.bincount(index, weights=labels[rows], minlength=size)
        predicted = np.bincount(index, weights=score, minlength=size)
        histogram = [calibration_histogram.Bucket(int(b), float(summed[b]), float(predicted[b]),
                                                  float(examples[b]))
                     for b in np.flatnonzero(examples)]
        return {key: histogram}

    return combine


def _regression_error(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                      ) -> Combine | None:
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
          ) -> Combine | None:
    """TFMA's weighted labels, predictions and examples (under calibration, mean label and mean
    prediction): their sums over the rows, each row's weight 1."""
    values = _scores_of(vars(combiner)["_key"], label, scores)
    if values is None:
        return None
    return _summing(combiner, {"total_weighted_labels": label.astype(np.float64),
                               "total_weighted_predictions": values},
                    "total_weighted_examples")


def _summing(combiner: Any, columns: dict[str, np.ndarray], count: str) -> Combine:
    """TFMA's accumulator of `combiner` with each field in `columns` the sum of its per-row
    values over the slice's rows, and `count` the number of rows (each row's weight 1)."""

    def combine(rows: np.ndarray) -> dict[Any, Any]:
        accumulator = combiner.create_accumulator()
        for field, values in columns.items():
            setattr(accumulator, field, float(np.sum(values[rows])))
        setattr(accumulator, count, float(len(rows)))
        return combiner.extract_output(accumulator)

    return combine


def _confusion_matrices(combiner: Any, label: np.ndarray, scores: dict[str, np.ndarray | None]
                        ) -> Combine | None:
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

    def combine(rows: np.ndarray) -> dict[Any, Any]:
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
        return combiner.extract_output(accumulator)

    return combine


def bucket_indices(scores: np.ndarray, left: float, width: float, count: int) -> np.ndarray:
    """TFMA's `_bucket_index` of each score: ((score - left) / width * count) + 1 in float64,
    truncated, below 0 -> 0, from count + 1 on -> count + 1."""
    index = (scores - left) / width * count + 1
    clipped = np.where(index < 0, 0.0, np.where(index >= count + 1, count + 1, index))
    return np.trunc(clipped).astype(np.int64)


def slice_rows(slicing_specs: Iterable[Any], columns: dict[str, pa.Array], rows: int
               ) -> dict[Slice, np.ndarray]:
    """{TFMA slice key: the indices of its rows, ascending}. TFMA's slicer runs once per
    distinct combination of the values of the columns the specs name, on a features dict shaped
    as TFMA's unbatched extracts are (a numpy array per column; a missing value left out)."""
    from tensorflow_model_analysis.slicer import slicer_lib as slicer

    slicing_specs = list(slicing_specs)
    specs = [slicer.SingleSliceSpec(spec=spec) for spec in slicing_specs]
    named = {key for spec in slicing_specs for key in (*spec.feature_keys, *spec.feature_values)}
    names = sorted(name for name in columns if name in named)  # overall alone: no column read
    lists = [columns[name].to_pylist() for name in names]
    dtypes = [_dtype(columns[name].type) for name in names]
    combination_of_row = [tuple(None if v is None else tuple(v) for v in values)
                          for values in zip(*lists, strict=True)] if names else [()] * rows
    members: dict[tuple, list[int]] = defaultdict(list)
    for row, combination in enumerate(combination_of_row):
        members[combination].append(row)
    found: dict[Slice, list[np.ndarray]] = defaultdict(list)
    for combination, indices in members.items():
        features = {name: np.array(value, dtype) for name, value, dtype
                    in zip(names, combination, dtypes, strict=True) if value is not None}
        for key in set(slicer.get_slices_for_features_dicts([], features, specs)):
            found[key].append(np.asarray(indices, np.int64))
    return {key: np.sort(np.concatenate(parts)) for key, parts in found.items()}


def _dtype(list_type: pa.DataType) -> Any:
    value_type = list_type.value_type
    if pa.types.is_integer(value_type):
        return np.int64
    if pa.types.is_floating(value_type):
        return np.float32
    return object
