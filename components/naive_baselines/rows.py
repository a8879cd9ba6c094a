"""A split's rows as the model's evaluation sees them: raw tf.Examples through the trained
model's `transform_features` signature (every transformed feature, and the label as
`label_xf`, derived exactly as in training), plus the raw columns the slices are cut by."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

from components.shared.model_contract import LABEL_KEY, SERVING_DIR, TRANSFORM_SIGNATURE

_BATCH = 1024


@dataclass
class SplitRows:
    features: dict[str, np.ndarray]        # transformed features, [rows, ...]
    label: np.ndarray                      # [rows]
    slices: dict[str, pa.Array] = field(default_factory=dict)  # raw column -> list array

    @property
    def count(self) -> int:
        return len(self.label)


def read_split(examples: types.Artifact, split: str, model_uri: str,
               slice_columns: list[str]) -> SplitRows:
    """Every row of `split` of `examples`, through the model at `model_uri`."""
    transform = tf.saved_model.load(os.path.join(model_uri, SERVING_DIR)).signatures[
        TRANSFORM_SIGNATURE]
    pattern = os.path.join(artifact_utils.get_split_uri([examples], split), "*")
    dataset = tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern)),
                                      compression_type="GZIP")
    parts: dict[str, list[np.ndarray]] = {}
    raw: list[bytes] = []
    for batch in dataset.batch(_BATCH):
        for key, value in transform(examples=batch).items():
            parts.setdefault(key, []).append(value.numpy())
        if slice_columns:
            raw += [bytes(record) for record in batch.numpy()]
    columns = {key: np.concatenate(values) for key, values in parts.items()}
    label = columns.pop(LABEL_KEY, np.zeros(0)).reshape(-1)
    return SplitRows(columns, label, raw_columns(raw, slice_columns))


def raw_columns(records: list[bytes], columns: list[str]) -> dict[str, pa.Array]:
    """The raw values of `columns` as Arrow list arrays (missing: null), typed as TFMA's own
    decoding of the examples types them (bytes, int64, float32)."""
    values: dict[str, list] = {c: [] for c in columns}
    kinds: dict[str, str] = {}
    for record in records:
        example = tf.train.Example.FromString(record)
        for column in columns:
            feature = example.features.feature.get(column)
            kind = feature.WhichOneof("kind") if feature is not None else None
            if kind is None:
                values[column].append(None)
                continue
            kinds.setdefault(column, kind)
            values[column].append(list(getattr(feature, kind).value))
    arrow_type = {"bytes_list": pa.binary(), "int64_list": pa.int64(),
                  "float_list": pa.float32()}
    return {c: pa.array(values[c], pa.list_(arrow_type[kinds.get(c, "bytes_list")]))
            for c in columns}
