"""A .tflite model called by input name, on batches of any size: how the components run one."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class TFLiteModel:
    """A .tflite model called by input name, any batch size."""

    def __init__(self, content: bytes, num_threads: int | None = None):
        self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()
        self.inputs = {name: detail["dtype"]
                       for name, detail in self.runner.get_input_details().items()}
        [self.output] = list(self.runner.get_output_details())

    def __call__(self, features: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: np.asarray(features[name]).astype(dtype).reshape(-1, 1)
                for name, dtype in self.inputs.items()}
        return self.runner(**feed)[self.output]

    def call_runner(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The signature runner on inputs already of the right dtype and shape (for timing)."""
        return self.runner(**feed)

    def predict(self, features: dict[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
        rows = len(next(iter(features.values())))
        parts = [self({k: v[i:i + batch_size] for k, v in features.items()})
                 for i in range(0, rows, batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
