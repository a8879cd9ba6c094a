"""Batch-1 prediction latency: one example per call, many calls, percentiles in milliseconds.

Each call is timed alone (time.perf_counter around the call and the read of its result), after
warm-up calls that are not counted; the examples are cycled so caches see varied inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def measure(call: Callable[[Any], Any], inputs: Sequence[Any], calls: int,
            warmup: int = 20) -> dict[str, float]:
    for i in range(min(warmup, calls)):
        call(inputs[i % len(inputs)])
    times = np.empty(calls, dtype=np.float64)
    for i in range(calls):
        item = inputs[i % len(inputs)]
        started = time.perf_counter()
        call(item)
        times[i] = time.perf_counter() - started
    millis = times * 1000.0
    return {"p50": float(np.percentile(millis, 50)), "p90": float(np.percentile(millis, 90)),
            "p99": float(np.percentile(millis, 99)), "mean": float(millis.mean()),
            "calls": int(calls)}


def saved_model_call(serving_dir: str) -> Callable[[bytes], Any]:
    """The `serving_default` signature on one serialized raw tf.Example."""
    import tensorflow as tf

    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]

    def call(example: bytes) -> Any:
        return {k: v.numpy() for k, v in serve(examples=tf.constant([example])).items()}

    return call


def keras_call(model: Any) -> Callable[[dict[str, np.ndarray]], Any]:
    """The Keras model alone on one row of transformed features (no parsing, no transform)."""
    import tensorflow as tf

    predict = tf.function(lambda features: model(features, training=False))

    def call(features: dict[str, np.ndarray]) -> Any:
        return predict({k: tf.constant(v) for k, v in features.items()}).numpy()

    return call
