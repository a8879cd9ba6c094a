"""TFX's StatisticsGen, its examples read by TensorFlow's C++ TFRecord reader
(`components/shared/tfrecord_reading.py`)."""

from components.statistics_gen.component import StatisticsGen

__all__ = ["StatisticsGen"]
