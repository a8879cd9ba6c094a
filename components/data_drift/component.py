"""DataDrift component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact, channel, component_spec, standard_artifacts

from components.data_drift.executor import Executor

__all__ = ["DataDrift", "DataDriftReport", "DataDriftSpec"]


class DataDriftReport(artifact.Artifact):
    """`drift.json` (every measurement, exceeded or not) and the statistics compared.

    Custom properties make the values trendable from ML Metadata: `span`, `previous_span`
    (-1 without one), `drift_exceeded`, `skew_exceeded`, and one float per measurement,
    `drift:<feature>` and `skew:<feature>`.
    """

    TYPE_NAME = "DataDriftReport"


class DataDriftSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        # JSON of the config's label: column, kind, derive, positive_values.
        "label": component_spec.ExecutionParameter(type=str),
        "label_drift_threshold": component_spec.ExecutionParameter(type=float),
        # Skew is judged (can halt) only when both splits hold at least this many examples.
        "skew_min_examples": component_spec.ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
        "baseline_examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True),
        "window_examples": component_spec.ChannelParameter(
            type=standard_artifacts.Examples, optional=True),
        "schema": component_spec.ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {
        "report": component_spec.ChannelParameter(type=DataDriftReport),
    }


class DataDrift(base_component.BaseComponent):
    """Compares distributions with the comparators of the schema; reports, never halts.

    - drift: `examples` (this span, all splits) against `baseline_examples` (the previous span
      that passed validation), with each feature's `drift_comparator`, plus the label as the
      model sees it against `label_drift_threshold`;
    - skew: the train split of `window_examples` (the spans the model trains on) against their
      eval split, with each feature's `skew_comparator`; judged only when both splits hold
      `skew_min_examples` examples (on a few dozen, comparators measure sampling noise).

    The DataGate downstream halts the run when a threshold is exceeded. The stock
    ExampleValidator of TFX 1.16 takes no previous or serving statistics, hence this component.
    """

    SPEC_CLASS = DataDriftSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: channel.BaseChannel, schema: channel.BaseChannel, label: str,
                 label_drift_threshold: float, skew_min_examples: int = 0,
                 baseline_examples: channel.BaseChannel | None = None,
                 window_examples: channel.BaseChannel | None = None):
        super().__init__(
            spec=DataDriftSpec(
                examples=examples,
                baseline_examples=baseline_examples,
                window_examples=window_examples,
                schema=schema,
                label=label,
                label_drift_threshold=float(label_drift_threshold),
                skew_min_examples=int(skew_min_examples),
                report=channel.Channel(type=DataDriftReport),
            )
        )
