"""The label as the model sees it, computed from serialized tf.Examples of raw data.

The model's label may be derived (taxi: tips > 20% of the fare): the raw data then holds no label
column whose distribution could drift. It is computed with the user's own function (the
LabelSpec's `function`, the Transform module's in this project), so drift is measured on exactly
the label Transform gives the Trainer.
"""

from __future__ import annotations

from typing import Any

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import import_utils

from components.data_drift.params import LabelSpec

_DTYPES = {schema_pb2.FLOAT: "float32", schema_pb2.INT: "int64", schema_pb2.BYTES: "string"}


def label_function(spec: LabelSpec) -> Any:
    module, _, name = spec.function.rpartition(".")
    return import_utils.import_func_from_module(module, name)


def label_values(serialized: list[bytes], spec: LabelSpec, schema: schema_pb2.Schema,
                 function: Any) -> list[Any]:
    """One label per example: '0'/'1' (binary), the class text (multiclass), a float or None."""
    import tensorflow as tf

    types = {f.name: f.type for f in schema.feature}
    parse = {name: tf.io.VarLenFeature(getattr(tf, _DTYPES.get(types.get(name), "string")))
             for name in spec.columns}
    inputs = tf.io.parse_example(tf.constant(serialized, dtype=tf.string), parse)
    values = function(inputs, spec.config).numpy().ravel()
    if spec.kind == "binary":
        return [str(int(v)) for v in values]
    if spec.kind == "multiclass":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in values]
    return [None if v != v else float(v) for v in values]  # NaN: missing
