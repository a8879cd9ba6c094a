"""DataGate component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact, channel, component_spec, standard_artifacts

from components.data_gate.executor import DataValidationError, Executor

__all__ = ["DataGate", "DataGateSpec", "DataValidationError", "DataValidationResult"]


class DataValidationResult(artifact.Artifact):
    """The gate's verdict: `result.json` with the anomaly table, custom property `passed`."""

    TYPE_NAME = "DataValidationResult"


class DataGateSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "halt_on_anomalies": component_spec.ExecutionParameter(type=int),
    }
    INPUTS = {
        "anomalies": component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {
        "result": component_spec.ChannelParameter(type=DataValidationResult),
    }


class DataGate(base_component.BaseComponent):
    """Reads ExampleValidator's anomalies per split; fails the run when there are any.

    Failing the execution is what halts TFX's local runner before Transform and Trainer, so
    nothing is trained or pushed from data that broke the schema.
    """

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, anomalies: channel.BaseChannel, halt_on_anomalies: bool = True):
        super().__init__(
            spec=DataGateSpec(
                anomalies=anomalies,
                halt_on_anomalies=int(halt_on_anomalies),
                result=channel.Channel(type=DataValidationResult),
            )
        )
