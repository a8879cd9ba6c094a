"""Test-wide environment: Keras 2 for TensorFlow (set before any test imports it)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
