"""SpanValidation component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.data_drift.component import label_code_fingerprint
from components.data_drift.params import LabelSpec, MinimumExamples
from components.data_gate.params import GateRules
from components.shared.artifacts import DataDriftReport, DataValidationResult
from components.shared.params import encode
from components.span_validation import executor as executor_lib
from components.span_validation.executor import Executor

__all__ = ["SpanValidation", "SpanValidationSpec"]


class SpanValidationSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        # As DataDrift's: the label and its drift threshold.
        executor_lib.LABEL_KEY: component_spec.ExecutionParameter(type=str),
        # As DataGate's: anomaly kinds that are reported but do not halt, and the rules' hash.
        executor_lib.RULES_KEY: component_spec.ExecutionParameter(type=str),
        executor_lib.MINIMUM_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        executor_lib.CODE_FINGERPRINT_KEY: component_spec.ExecutionParameter(
            type=str, optional=True),
    }
    INPUTS = {
        # One ExampleGen output per span, any order.
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
        # The newest validated span before the first of `examples`: the first span's drift
        # baseline.
        "baseline_examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True),
        "schema": component_spec.ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {
        # One artifact per span validated, each in a `span-<N>` folder of the output: what
        # StatisticsGen, ExampleValidator, DataDrift and DataGate write for one span.
        "statistics": component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
        "anomalies": component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        "report": component_spec.ChannelParameter(type=DataDriftReport),
        "result": component_spec.ChannelParameter(type=DataValidationResult),
    }


class SpanValidation(base_component.BaseComponent):
    """The data gates of StatisticsGen -> ExampleValidator -> DataDrift -> DataGate, for many
    spans at once.

    Run per span, those are three Beam pipelines of a few hundred rows each, whose fixed cost
    is nearly all of a backfill's time. This component computes every span's statistics in one
    Beam job (TFDV, sliced by span and split), then validates the spans oldest first, each
    against the curated schema and against the previous span for drift, exactly as the
    per-span components do, and writes the same files and properties. It stops at the first
    span that does not pass: the spans after it were not validated.
    """

    SPEC_CLASS = SpanValidationSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: channel.BaseChannel, schema: channel.BaseChannel,
                 label: LabelSpec, rules: GateRules | None = None,
                 baseline_examples: channel.BaseChannel | None = None,
                 minimum: MinimumExamples | None = None):
        super().__init__(
            spec=SpanValidationSpec(
                examples=examples,
                baseline_examples=baseline_examples,
                schema=schema,
                label=encode(label),
                rules=encode(rules or GateRules()),
                minimum_examples=encode(minimum or MinimumExamples()),
                code_fingerprint=label_code_fingerprint(__file__, label),
                statistics=channel.Channel(type=standard_artifacts.ExampleStatistics),
                anomalies=channel.Channel(type=standard_artifacts.ExampleAnomalies),
                report=channel.Channel(type=DataDriftReport),
                result=channel.Channel(type=DataValidationResult),
            )
        )
