"""A reference device client: scores raw rows with a shipped .tflite and its preprocessing.json.

It uses nothing from the pipeline: no TensorFlow graph, no tf.Transform, only the two shipped
files, NumPy, the TFLite interpreter and FarmHash (pyfarmhash) for out-of-vocabulary buckets.
It is what a mobile or embedded client implements in its own language; the tests check that it
reproduces the Transform graph and scores like the served dense model.
"""

from __future__ import annotations

import json
import math
from typing import Any

import farmhash
import numpy as np

from components.model_optimizer.preprocessing_spec import FORMAT


def load_preprocessing(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    if spec.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    for entry in spec["inputs"]:
        if entry["kind"] == "categorical":
            entry["_ids"] = {token: i for i, token in enumerate(entry["vocabulary"])}
    return spec


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _filled(entry: dict[str, Any], value: Any) -> np.float32:
    if _missing(value):
        if entry["fill"] is None:
            raise ValueError(f"'{entry['source']}' is required (it was never missing in training)")
        return np.float32(entry["fill"])
    return np.float32(float(value))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def transform_row(spec: dict[str, Any], row: dict[str, Any]) -> dict[str, np.ndarray]:
    """One raw row ({column: value}, absent or None = missing) -> {model input: [1, 1] array}."""
    features = {}
    for entry in spec["inputs"]:
        value = row.get(entry["source"])
        if entry["kind"] == "numeric":
            z = (_filled(entry, value) - np.float32(entry["mean"])) / np.float32(entry["std"])
            features[entry["name"]] = np.array([[z]], dtype=np.float32)
        elif entry["kind"] == "bucket":
            x = _filled(entry, value)
            bucket = sum(1 for b in entry["boundaries"] if np.float32(b) <= x)
            features[entry["name"]] = np.array([[bucket]], dtype=np.int64)
        else:
            text = entry["missing"] if _missing(value) else _text(value)
            index = entry["_ids"].get(text)
            if index is None:
                index = len(entry["vocabulary"]) + farmhash.fingerprint64(text) % entry[
                    "oov_buckets"]
            features[entry["name"]] = np.array([[index]], dtype=np.int64)
    return features


class DeviceModel:
    """A .tflite model and its preprocessing: raw rows in, scores out."""

    def __init__(self, tflite_path: str, preprocessing_path: str):
        from tensorflow import lite  # on a device: tflite_runtime.interpreter

        self.spec = load_preprocessing(preprocessing_path)
        self.runner = lite.Interpreter(model_path=tflite_path).get_signature_runner()

    def score(self, row: dict[str, Any]) -> np.ndarray:
        outputs = self.runner(**transform_row(self.spec, row))
        return next(iter(outputs.values()))[0]
