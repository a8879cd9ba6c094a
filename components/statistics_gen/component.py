"""TFX's StatisticsGen component (its spec, channels, parameters) with the executor of
executor.py."""

from __future__ import annotations

from tfx.components import StatisticsGen as TfxStatisticsGen
from tfx.dsl.components.base import executor_spec

from components.statistics_gen.executor import Executor


class StatisticsGen(TfxStatisticsGen):
    """TFX's StatisticsGen; its examples read a batch of records at a time
    (components/shared/tfrecord_reading.py)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
