"""Test-wide environment: Keras 2 for TensorFlow (set before any test imports it)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# tf-keras writes keras.json into ~/.keras on import otherwise; tests write nothing to $HOME.
os.environ.setdefault("KERAS_HOME", str(Path(__file__).parent / ".pytest_cache" / "keras"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Keras imports matplotlib when it is installed, and Jupyter's kernel lookup creates an IPython
# profile folder: both inside the environment, not in $HOME.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "var", "matplotlib"))
os.environ.setdefault("IPYTHONDIR", os.path.join(sys.prefix, "var", "ipython"))

# Session fixtures shared by tests in several folders (small real TFX artifacts).
pytest_plugins = ["tests.tiny_pipeline"]
