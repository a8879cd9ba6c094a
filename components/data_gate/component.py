"""DataGate component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

import json

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact, channel, component_spec, standard_artifacts

from components.data_drift.component import DataDriftReport
from components.data_gate.executor import DataValidationError, Executor

__all__ = ["DataGate", "DataGateSpec", "DataValidationError", "DataValidationResult"]


class DataValidationResult(artifact.Artifact):
    """The gate's verdict: `result.json` with the anomaly table, custom property `passed`.

    Also `span` and `examples_id` of the span validated (when the `examples` input is given)
    and `validation_key`.
    """

    TYPE_NAME = "DataValidationResult"


class DataGateSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "halt_on_anomalies": component_spec.ExecutionParameter(type=int),
        # JSON list of anomaly kinds that are reported but do not halt (e.g. SCHEMA_NEW_COLUMN).
        "report_only": component_spec.ExecutionParameter(type=str, optional=True),
        # Hash of what the verdict depends on besides the data (schema, thresholds): recorded
        # in the result, so a span validated under other rules is validated again.
        "validation_key": component_spec.ExecutionParameter(type=str, optional=True),
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
        # which spans passed (pipeline/span_resolver.py).
        "examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        "result": component_spec.ChannelParameter(type=DataValidationResult),
    }


class DataGate(base_component.BaseComponent):
    """Reads ExampleValidator's anomalies per split and DataDrift's exceeded thresholds; fails
    the run when there are any that halt.

    Failing the execution is what halts TFX's local runner before Transform and Trainer, so
    nothing is trained or pushed from data that broke the schema or drifted too far.
    """

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, anomalies: channel.BaseChannel, halt_on_anomalies: bool = True,
                 drift: channel.BaseChannel | None = None,
                 statistics: channel.BaseChannel | None = None,
                 schema: channel.BaseChannel | None = None,
                 examples: channel.BaseChannel | None = None,
                 report_only: list[str] | None = None, validation_key: str = ""):
        super().__init__(
            spec=DataGateSpec(
                anomalies=anomalies,
                drift=drift,
                statistics=statistics,
                schema=schema,
                examples=examples,
                halt_on_anomalies=int(halt_on_anomalies),
                report_only=json.dumps(sorted(report_only or [])),
                validation_key=validation_key,
                result=channel.Channel(type=DataValidationResult),
            )
        )
