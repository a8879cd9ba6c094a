"""TFX's Transform component (its spec, driver, channels, parameters) with the executor of
executor.py."""

from __future__ import annotations

from tfx.components import Transform as TfxTransform
from tfx.dsl.components.base import executor_spec

from components.transform.executor import Executor


class Transform(TfxTransform):
    """TFX's Transform; its examples read a batch of records at a time
    (components/shared/tfrecord_reading.py)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
