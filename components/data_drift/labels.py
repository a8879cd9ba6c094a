"""The label as the model sees it, computed from serialized tf.Examples of raw data.

The model's label may be derived (taxi: tips > 20% of the fare): the raw data then holds no label
column whose distribution could drift. This computes it with the Transform module's own
functions (`binary_label`, `string_column`, `numeric_column`), so drift is measured on exactly the
label Transform gives the Trainer.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tensorflow_metadata.proto.v0 import schema_pb2  # noqa: E402

_DTYPES = {schema_pb2.FLOAT: "float32", schema_pb2.INT: "int64", schema_pb2.BYTES: "string"}


def source_columns(label_config: dict[str, Any]) -> list[str]:
    """The raw columns the label is computed from."""
    derive = label_config.get("derive")
    return [label_config["column"], *([derive["denominator"]] if derive else [])]


def is_categorical(label_config: dict[str, Any]) -> bool:
    return label_config["kind"] in ("binary", "multiclass")


def rule_text(label_config: dict[str, Any]) -> str:
    """A readable statement of the label, e.g. 'tips > 0.2 * fare'."""
    column = label_config["column"]
    derive = label_config.get("derive")
    if derive:
        return f"{column} > {derive['threshold']:g} * {derive['denominator']}"
    if label_config.get("positive_values") is not None:
        return f"{column} in {list(label_config['positive_values'])}"
    if label_config["kind"] == "binary":
        return f"{column} > 0"
    return column


def label_values(serialized: list[bytes], label_config: dict[str, Any],
                 schema: schema_pb2.Schema) -> list[Any]:
    """One label per example: '0'/'1' (binary), the class text (multiclass), a float or None."""
    import tensorflow as tf

    from pipeline.modules import transform

    types = {f.name: f.type for f in schema.feature}
    spec = {name: tf.io.VarLenFeature(getattr(tf, _DTYPES.get(types.get(name), "string")))
            for name in source_columns(label_config)}
    inputs = tf.io.parse_example(tf.constant(serialized, dtype=tf.string), spec)
    kind = label_config["kind"]
    if kind == "binary":
        values = transform.binary_label(inputs, label_config).numpy().ravel()
        return [str(int(v)) for v in values]
    if kind == "multiclass":
        column = transform.string_column(inputs[label_config["column"]])
        return [v.decode("utf-8", "replace") for v in column.numpy().ravel()]
    value, present = transform.numeric_column(inputs[label_config["column"]])
    return [float(v) if p else None
            for v, p in zip(value.numpy().ravel(), present.numpy().ravel(), strict=True)]
