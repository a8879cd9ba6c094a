"""Test-wide environment: Keras 2 for TensorFlow (set before any test imports it)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Session fixtures shared by tests in several folders (small real TFX artifacts).
pytest_plugins = ["tests.tiny_pipeline"]
