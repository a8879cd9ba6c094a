"""Test-wide environment: Keras 2 for TensorFlow (set before any test imports it)."""

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# tf-keras writes keras.json into ~/.keras on import otherwise; tests write nothing to $HOME.
os.environ.setdefault("KERAS_HOME", str(Path(__file__).parent / ".pytest_cache" / "keras"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
