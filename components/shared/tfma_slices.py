"""TFMA 0.47.1's slice keys for a whole set of rows at once: each slice's rows, found by running
TFMA's own slicer once per distinct combination of the values of the columns the slicing specs
name, on a features dict shaped as TFMA's unbatched extracts are (a numpy array per column; a
missing value left out, an empty one kept empty). TFMA runs its slicer once per row.

A column comes as each row's values and the numpy dtype TFMA's unbatched feature has: from an
Arrow list array (`arrow_column`), or from a feature of TFMA's batched extracts
(`batched_column`: a dense array with the batch first, or a VarLenTensorValue).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

Slice = tuple  # TFMA's slice key: ((column, value), ...); () is the overall slice
Column = tuple[list, Any]  # each row's values (None: missing), and their numpy dtype


def named_columns(slicing_specs: Iterable[Any]) -> set[str]:
    """The columns the specs slice on."""
    return {key for spec in slicing_specs for key in (*spec.feature_keys, *spec.feature_values)}


def slice_rows(slicing_specs: Iterable[Any], columns: dict[str, Column], rows: int
               ) -> dict[Slice, np.ndarray]:
    """{TFMA slice key: the indices of its rows, ascending}, for the rows of `columns` (the
    columns the specs name; others are not read)."""
    from tensorflow_model_analysis.slicer import slicer_lib as slicer

    slicing_specs = list(slicing_specs)
    specs = [slicer.SingleSliceSpec(spec=spec) for spec in slicing_specs]
    names = sorted(set(columns) & named_columns(slicing_specs))  # overall alone: none read
    lists = [columns[name][0] for name in names]
    dtypes = [columns[name][1] for name in names]
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


def arrow_column(array: pa.Array) -> Column:
    """An Arrow list column: each row's values (None where null), typed as TFMA's features
    from a RecordBatch are (int64, float32, or objects for bytes)."""
    value_type = array.type.value_type
    dtype = (np.int64 if pa.types.is_integer(value_type)
             else np.float32 if pa.types.is_floating(value_type) else object)
    return array.to_pylist(), dtype


def batched_column(value: Any, rows: int) -> Column | None:
    """A feature of TFMA's batched extracts as each row's values, as TFMA's unbatching splits
    it; None for a form not handled here (the caller lets TFMA unbatch)."""
    from tensorflow_model_analysis.api import types

    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[0] == rows:
        return list(value.tolist()), value.dtype
    if isinstance(value, types.VarLenTensorValue) and len(value.dense_shape) == 2 \
            and value.dense_shape[0] == rows:
        row_of = np.asarray(value.indices)[:, 0]
        if np.any(np.diff(row_of) < 0):
            return None
        edges = np.searchsorted(row_of, np.arange(1, rows))
        values = np.asarray(value.values)
        return [part.tolist() for part in np.split(values, edges)], values.dtype
    return None
