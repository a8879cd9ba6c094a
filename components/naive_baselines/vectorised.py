"""TFMA's own metric computations for the baselines' scores, their per-row step done for a whole
slice at once with numpy, where TFMA 0.47.1's combiner is one this module knows.

TFMA evaluates an example once per slice it falls in, and per slice runs every combiner's
Python on it: that was most of BaselineScores' time (docs/performance.md, "NaiveBaselines").
The baselines' inputs are this component's own: a label and one score per row and model, for
which the combiners' accumulators have closed forms over a slice's rows
(`components/shared/tfma_closed_forms.py`), built per slice here.
Everything after them is TFMA's code: its computations and their order
(`metric_specs.to_computations`), its slices (`slicer`, on each distinct combination of the
slice columns' values: `components/shared/tfma_slices.py`), its derived metrics (confusion
matrices, AUC) and its conversion to `MetricsForSlice`. So the figures are TFMA's: the test
compares every slice's metrics with a TFMA pipeline on the same rows.

`evaluate` answers None, and the caller runs TFMA's pipeline, for anything else: another TFMA
version, a combiner not listed (the Keras-wrapped ones: multiclass accuracy, RMSE), example ids,
weighted or per-class metrics, labels not finite or (for the histogram and fractional labels)
not 0 or 1, scores not one per row or not finite, cross-slice specs, confidence intervals, a
minimum slice size. Sums of non-integers may differ from TFMA's in the last bits: TFMA adds
partial sums in the order Beam merges them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from components.shared import tfma_closed_forms as closed_forms
from components.shared import tfma_slices as slices


def evaluate(eval_config: Any, label: np.ndarray, scores: dict[str, np.ndarray],
             columns: dict[str, pa.Array]) -> list[Any] | None:
    """Every slice's MetricsForSlice of the models in `eval_config` (each model's scores in
    `scores` under its name; `columns`: the raw slice columns), or None where TFMA's own
    pipeline must run (the module docstring)."""
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev
    from tensorflow_model_analysis.metrics import metric_types
    from tensorflow_model_analysis.utils import config_util
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as writer

    config = config_util.update_eval_config_with_defaults(eval_config)
    computations = closed_forms.computations(config, list(config.metrics_specs))
    if computations is None:
        return None
    typed = np.asarray(label).reshape(-1)
    typed = typed.astype(np.float32 if typed.dtype.kind == "f" else np.int64)
    values = {name: _scores(array, len(typed)) for name, array in scores.items()}
    combiners = [c.combiner for c in computations.non_derived_computations]
    accumulators = [closed_forms.accumulating(c, typed, values) for c in combiners]
    if not combiners or any(a is None for a in accumulators):
        return None
    records = []
    named = {name: slices.arrow_column(columns[name])
             for name in slices.named_columns(config.slicing_specs) if name in columns}
    for key, rows in slices.slice_rows(config.slicing_specs, named, len(typed)).items():
        metrics: dict[Any, Any] = {}
        for combiner, accumulate in zip(combiners, accumulators, strict=True):
            metrics.update(combiner.extract_output(accumulate(rows)))
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
