"""TFX's Transform, its examples read by TensorFlow's C++ TFRecord reader
(`components/shared/tfrecord_reading.py`)."""

from components.transform.component import Transform

__all__ = ["Transform"]
