"""DataGate component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.data_gate import executor as executor_lib
from components.data_gate.executor import Executor
from components.data_gate.params import GateRules
from components.shared.artifacts import DataDriftReport, DataValidationResult
from components.shared.params import component_fingerprint, encode

__all__ = ["DataGate", "DataGateSpec"]


class DataGateSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.RULES_KEY: component_spec.ExecutionParameter(type=str),
        executor_lib.CODE_FINGERPRINT_KEY: component_spec.ExecutionParameter(
            type=str, optional=True),
    }
    INPUTS = {
        "anomalies": component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        # Optional: drift and skew measurements (their exceeded thresholds halt too) ...
        "drift": component_spec.ChannelParameter(type=DataDriftReport, optional=True),
        # ... and what the observed values and thresholds of the table are read from.
        "statistics": component_spec.ChannelParameter(
            type=standard_artifacts.ExampleStatistics, optional=True),
        "schema": component_spec.ChannelParameter(type=standard_artifacts.Schema, optional=True),
        # The span validated: its id and span are recorded in the result, so later runs know
        # which spans passed.
        "examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        "result": component_spec.ChannelParameter(type=DataValidationResult),
    }


class DataGate(base_component.BaseComponent):
    """Reads ExampleValidator's anomalies per split and DataDrift's exceeded thresholds; fails
    the run when there are any that halt (see `GateRules`).

    Failing the execution is what halts TFX's local runner before Transform and Trainer, so
    nothing is trained or pushed from data that broke the schema or drifted too far.
    """

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, anomalies: channel.BaseChannel, rules: GateRules | None = None,
                 drift: channel.BaseChannel | None = None,
                 statistics: channel.BaseChannel | None = None,
                 schema: channel.BaseChannel | None = None,
                 examples: channel.BaseChannel | None = None):
        super().__init__(
            spec=DataGateSpec(
                anomalies=anomalies,
                drift=drift,
                statistics=statistics,
                schema=schema,
                examples=examples,
                rules=encode(rules or GateRules()),
                code_fingerprint=component_fingerprint(__file__),
                result=channel.Channel(type=DataValidationResult),
            )
        )
