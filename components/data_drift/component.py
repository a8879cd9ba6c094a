"""DataDrift component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.data_drift import executor as executor_lib
from components.data_drift.executor import Executor
from components.data_drift.params import LabelSpec, MinimumExamples
from components.shared import user_code
from components.shared.artifacts import DataDriftReport
from components.shared.params import encode

__all__ = ["DataDrift", "DataDriftSpec"]


class DataDriftSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.LABEL_KEY: component_spec.ExecutionParameter(type=str),
        # Drift and skew are judged (can halt) only on this many examples (MinimumExamples).
        executor_lib.MINIMUM_KEY: component_spec.ExecutionParameter(type=str, optional=True),
        executor_lib.CODE_FINGERPRINT_KEY: component_spec.ExecutionParameter(
            type=str, optional=True),
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
      model sees it (`label`, computed by the user's own function) against its drift threshold;
    - skew: the train split of `window_examples` (the spans the model trains on) against their
      eval split, with each feature's `skew_comparator`.
    Each is judged only on enough examples (`minimum`); below, it is recorded as not judged.

    The DataGate downstream halts the run when a threshold is exceeded. The stock
    ExampleValidator of TFX 1.16 takes no previous or serving statistics, hence this component.
    """

    SPEC_CLASS = DataDriftSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: channel.BaseChannel, schema: channel.BaseChannel,
                 label: LabelSpec, minimum: MinimumExamples | None = None,
                 baseline_examples: channel.BaseChannel | None = None,
                 window_examples: channel.BaseChannel | None = None):
        super().__init__(
            spec=DataDriftSpec(
                examples=examples,
                baseline_examples=baseline_examples,
                window_examples=window_examples,
                schema=schema,
                label=encode(label),
                minimum_examples=encode(minimum or MinimumExamples()),
                code_fingerprint=label_code_fingerprint(__file__, label),
                report=channel.Channel(type=DataDriftReport),
            )
        )


def label_code_fingerprint(component_file: str, label: LabelSpec) -> str:
    """The component's code and the label function's module folder (TFX fingerprints
    neither)."""
    return user_code.user_code_fingerprint(component_file, label.function.rpartition(".")[0])
