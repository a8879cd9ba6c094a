"""SpanWindow component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.shared.params import component_fingerprint
from components.span_window.executor import Executor

__all__ = ["SpanWindow", "SpanWindowSpec"]


class SpanWindowSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "code_fingerprint": component_spec.ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        "window": component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }


class SpanWindow(base_component.BaseComponent):
    """Gathers the Examples of several spans (one per ExampleGen execution) into one artifact.

    Each split of the output holds the files of that split of every input span, renamed
    `span-<N>-<file>`; nothing is decoded or re-encoded. Transform, Trainer and Evaluator then
    read one dataset: given the 24 Examples artifacts of 24 monthly spans, Transform builds a
    branch per artifact and, on Beam's DirectRunner, grew past 20 GB of memory without finishing
    (docs/performance.md, "Why a window is one artifact").
    The output's custom properties: `span` (the newest), `window_spans` (JSON list) and
    `window_examples_ids` (JSON list), beside ExampleGen's `file_format` and `payload_format`.
    """

    SPEC_CLASS = SpanWindowSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, examples: channel.BaseChannel):
        super().__init__(spec=SpanWindowSpec(
            examples=examples, code_fingerprint=component_fingerprint(__file__),
            window=channel.Channel(type=standard_artifacts.Examples)))
