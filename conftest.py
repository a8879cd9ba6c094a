"""The test session's set-up, as every entry point's (`pipeline.process`), before any test
imports TensorFlow; and the fixtures shared by tests in several folders (tests/fixtures/)."""

import os
from pathlib import Path

from pipeline import process

# tf-keras writes keras.json into ~/.keras otherwise: tests write nothing to $HOME.
process.set_up(keras_home=Path(__file__).parent / ".pytest_cache" / "keras", tf_log_level=2)
# Importing Airflow (tests/test_scheduling.py) creates $AIRFLOW_HOME/logs, ~/airflow by default.
os.environ.setdefault("AIRFLOW_HOME", str(Path(__file__).parent / ".pytest_cache" / "airflow"))

pytest_plugins = ["tests.fixtures.tiny", "tests.fixtures.taxi", "tests.fixtures.configs",
                  "tests.fixtures.datasets", "tests.fixtures.reading", "tests.fixtures.same_run"]
