"""What the batched metrics step (`tfma_sliced_metrics.py`) reads from TFMA 0.47.1's extracts:
each slice's rows, the labels and each model's scores, from a list of unbatched extracts (one
per example, slice keys given by TFMA's extractor) or from one batched extract (before TFMA
unbatches it: slices found here, `components/shared/tfma_slices.py`). Each answers None where
the extracts are not in the form it knows; the caller then leaves the batch to TFMA's code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from components.shared import tfma_slices

Columns = tuple[np.ndarray, dict[str, np.ndarray]]  # labels; each model's scores


def rows_of_slice_keys(batch: list[dict[str, Any]]) -> dict[Any, np.ndarray]:
    """{slice key: the indices of the batch's rows in it}, from the keys TFMA's slice key
    extractor gave each example (each key once per example, as TFMA's fan-out counts it)."""
    from tensorflow_model_analysis import constants
    from tensorflow_model_analysis.api import types

    groups: dict[Any, list[int]] = defaultdict(list)
    for row, extract in enumerate(batch):
        keys = extract.get(constants.SLICE_KEY_TYPES_KEY)
        if isinstance(keys, types.VarLenTensorValue):
            keys = keys.values
        elif isinstance(keys, np.ndarray) and keys.ndim == 2:
            keys = keys.flatten()
        for key in set(keys):
            groups[key].append(row)
    return {key: np.asarray(rows, np.int64) for key, rows in groups.items()}


def label_and_scores(batch: list[dict[str, Any]], names: list[str]) -> Columns | None:
    """The labels and scores of a list of unbatched extracts (`_label_and_scores`)."""
    from tensorflow_model_analysis import constants

    def per_model(key: str) -> dict[str, Any] | None:
        values = [e.get(key) for e in batch]
        picked = {name: [_of_model(v, name) for v in values] for name in names}
        if any(v is None or isinstance(v, Mapping) for column in picked.values() for v in column):
            return None
        return picked

    return _label_and_scores(per_model(constants.LABELS_KEY),
                             per_model(constants.PREDICTIONS_KEY), len(batch))


def batched_rows(batched: dict[str, Any]) -> int | None:
    """The number of examples in a batched extract: its serialised inputs, its RecordBatch or
    else its labels; None if none of them says."""
    from tensorflow_model_analysis import constants

    inputs = batched.get(constants.INPUT_KEY)
    if isinstance(inputs, (np.ndarray, list)):
        return len(inputs)
    record_batch = batched.get(constants.ARROW_RECORD_BATCH_KEY)
    if record_batch is not None:
        return record_batch.num_rows
    labels = batched.get(constants.LABELS_KEY)
    labels = next(iter(labels.values()), None) if isinstance(labels, Mapping) else labels
    return len(labels) if isinstance(labels, np.ndarray) and labels.ndim else None


def batched_label_and_scores(batched: dict[str, Any], names: list[str], rows: int
                             ) -> Columns | None:
    """The labels and scores of a batched extract (`_label_and_scores`)."""
    from tensorflow_model_analysis import constants

    def per_model(key: str) -> dict[str, Any] | None:
        picked = {name: _of_model(batched.get(key), name) for name in names}
        if any(v is None or isinstance(v, Mapping) for v in picked.values()):
            return None
        return picked

    return _label_and_scores(per_model(constants.LABELS_KEY),
                             per_model(constants.PREDICTIONS_KEY), rows)


def _of_model(value: Any, name: str) -> Any:
    """A model's entry where the extract holds one per model, else the value itself."""
    return value[name] if isinstance(value, Mapping) and name in value else value


def _label_and_scores(labels: dict[str, Any] | None, scores: dict[str, Any] | None, rows: int
                      ) -> Columns | None:
    """The rows' labels (one number per row, the same for every model; integers as int64) and
    each model's scores (one finite number per row), typed as TFMA's extracts hold them."""
    if labels is None or scores is None:
        return None
    labels = {name: _numbers(value, rows) for name, value in labels.items()}
    scores = {name: _numbers(value, rows) for name, value in scores.items()}
    if any(v is None for v in (*labels.values(), *scores.values())):
        return None
    label = next(iter(labels.values()))
    if any(not np.array_equal(label, other) for other in labels.values()) \
            or any(not np.isfinite(values).all() for values in scores.values()):
        return None
    return (label.astype(np.int64) if label.dtype.kind in "biu" else label), scores


def _numbers(value: Any, rows: int) -> np.ndarray | None:
    """One number per row: a batched array, or each row's array of one value; else None."""
    try:
        array = np.asarray(value)
    except ValueError:  # rows of different shapes
        return None
    if array.dtype.kind not in "biuf" or array.size != rows \
            or (array.ndim and array.shape[0] != rows):
        return None
    return array.reshape(-1)


def batched_slice_rows(batched: dict[str, Any], slicing_specs: list[Any], rows: int
                       ) -> dict[Any, np.ndarray] | None:
    """{slice key: its rows} of a batched extract, as TFMA's slice key extractor would give
    them row by row: from the raw features; None where a column the specs name is among the
    transformed features (TFMA slices on those first) or in a form not handled here."""
    from tensorflow_model_analysis import constants

    named = tfma_slices.named_columns(slicing_specs)
    transformed = batched.get(constants.TRANSFORMED_FEATURES_KEY) or {}
    dicts = [transformed, *(v for v in transformed.values() if isinstance(v, Mapping))]
    if any(name in d for d in dicts for name in named):
        return None
    features = batched.get(constants.FEATURES_KEY) or {}
    columns = {}
    for name in named & set(features):
        column = tfma_slices.batched_column(features[name], rows)
        if column is None:
            return None
        columns[name] = column
    return tfma_slices.slice_rows(slicing_specs, columns, rows)
