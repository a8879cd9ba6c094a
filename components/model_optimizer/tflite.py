"""TensorFlow Lite conversions of the Keras model on transformed features, and what is inside.

- dynamic range: weights stored as int8, activations computed in float (no data needed);
- full integer int8: weights and activations int8, with activation ranges calibrated on a
  representative sample of the transformed training split; only int8 builtin kernels are
  allowed, so a conversion that would fall back to float fails instead of silently shipping it.
  The model keeps float32 inputs and output (it quantizes them itself) and int64 ids.
"""

from __future__ import annotations

import collections
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import tensorflow as tf

from components.shared.model_contract import SAVE_OPTIONS

MODEL_FILE = "model.tflite"
MODES = {"tflite_dynamic": "dynamic", "tflite_int8": "int8"}

# TFLite schema TensorType values -> NumPy names (tensorflow/lite/schema/schema.fbs).
_TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string",
                 6: "bool", 7: "int16", 9: "int8", 10: "float64"}


def convert(model: tf.keras.Model, mode: str,
            representative: Callable[[], Iterable[dict[str, np.ndarray]]] | None = None) -> bytes:
    """The .tflite bytes of `model` quantized as `mode` ("dynamic" or "int8")."""
    with tempfile.TemporaryDirectory() as folder:
        converter = tf.lite.TFLiteConverter.from_saved_model(_saved_model(model, folder))
        return _convert(converter, mode, representative)


def _saved_model(model: tf.keras.Model, folder: str) -> str:
    """`model` as a SavedModel with one signature: its inputs by name -> its output by name.

    What `from_keras_model` converts too, without the per-layer Keras traces it saves first (the
    same signature, ops and outputs, in a fraction of the time: docs/performance.md).
    """
    specs = {name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
             for name, tensor in zip(model.input_names, model.inputs, strict=True)}

    @tf.function(input_signature=[specs])
    def serve(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {model.output_names[0]: model(inputs, training=False)}

    model.save(folder, **SAVE_OPTIONS,
               signatures={"serving_default": serve.get_concrete_function()})
    return folder


def _convert(converter: tf.lite.TFLiteConverter, mode: str,
             representative: Callable[[], Iterable[dict[str, np.ndarray]]] | None) -> bytes:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        if representative is None:
            raise ValueError("full-integer quantization needs a representative dataset")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif mode == "dynamic":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    else:
        raise ValueError(f"unknown TFLite mode '{mode}'")
    return converter.convert()


def constant_tensors(tflite: bytes) -> list[dict[str, Any]]:
    """Every tensor stored in the file (weights, biases, quantization constants), with its dtype
    and byte size, and the ops that read it."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    graph = model.subgraphs[0]
    readers: dict[int, list[str]] = collections.defaultdict(list)
    names = {i: _op_name(model, code) for i, code in enumerate(model.operatorCodes)}
    for op in graph.operators:
        for position, tensor in enumerate(op.inputs):
            if tensor >= 0:
                readers[int(tensor)].append(f"{names[op.opcodeIndex]}:{position}")
    tensors = []
    for index, tensor in enumerate(graph.tensors):
        data = model.buffers[tensor.buffer].data
        if data is None or len(data) == 0:
            continue
        tensors.append({"name": tensor.name.decode() if isinstance(tensor.name, bytes)
                        else str(tensor.name),
                        "dtype": _TENSOR_TYPES.get(tensor.type, str(tensor.type)),
                        "bytes": len(data), "read_by": readers.get(index, [])})
    return tensors


def _op_name(model: Any, code: Any) -> str:
    from tensorflow.lite.python import schema_py_generated as schema

    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return next((name for name, value in vars(schema.BuiltinOperator).items()
                 if value == builtin and not name.startswith("_")), str(builtin))


def weight_summary(tflite: bytes) -> dict[str, Any]:
    """Bytes of stored tensors by dtype, and the dtypes of the weights of each kind of op."""
    tensors = constant_tensors(tflite)
    by_dtype: dict[str, int] = collections.Counter()
    weights: dict[str, set[str]] = collections.defaultdict(set)
    for tensor in tensors:
        by_dtype[tensor["dtype"]] += tensor["bytes"]
        for reader in tensor["read_by"]:
            # FULLY_CONNECTED:1 is a kernel, :2 a bias; GATHER:0 an embedding table.
            weights[reader].add(tensor["dtype"])
    return {"bytes_by_dtype": dict(by_dtype), "weights_bytes": sum(by_dtype.values()),
            "dtypes_by_op_input": {k: sorted(v) for k, v in sorted(weights.items())}}
