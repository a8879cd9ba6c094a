"""NaiveBaselines component (the lift gate): a ComponentSpec with typed channels, and its
executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.naive_baselines import executor as executor_lib
from components.naive_baselines.executor import Executor
from components.naive_baselines.params import BaselineSettings
from components.shared.artifacts import NaiveBaselineMetrics, NaiveBaselineScores
from components.shared.params import component_fingerprint, encode

__all__ = ["NaiveBaselines", "NaiveBaselinesSpec"]


class NaiveBaselinesSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.SETTINGS_KEY: component_spec.ExecutionParameter(type=str),
        executor_lib.CODE_FINGERPRINT_KEY: component_spec.ExecutionParameter(
            type=str, optional=True),
    }
    INPUTS = {
        # BaselineScores' output: the baselines' metrics per slice on the eval split.
        "scores": component_spec.ChannelParameter(type=NaiveBaselineScores),
        # The Evaluator's outputs: the model's gated metric, and its verdict.
        "model_evaluation": component_spec.ChannelParameter(
            type=standard_artifacts.ModelEvaluation),
        "model_blessing": component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    OUTPUTS = {
        "baselines": component_spec.ChannelParameter(type=NaiveBaselineMetrics),
        "blessing": component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class NaiveBaselines(base_component.BaseComponent):
    """Blesses the model only when the Evaluator blessed it and it beats the best of the
    baselines `settings.gated` names (BaselineScores' `scores`) on the gated metric by more
    than `settings.min_lift` (`verdict.py`). Its `baselines` are the scores with the verdict;
    its `blessing` is the one the pusher and the next run's baseline resolver read."""

    SPEC_CLASS = NaiveBaselinesSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, scores: channel.BaseChannel, model_evaluation: channel.BaseChannel,
                 model_blessing: channel.BaseChannel, settings: BaselineSettings):
        super().__init__(
            spec=NaiveBaselinesSpec(
                scores=scores,
                model_evaluation=model_evaluation,
                model_blessing=model_blessing,
                settings=encode(settings),
                code_fingerprint=component_fingerprint(__file__),
                baselines=channel.Channel(type=NaiveBaselineMetrics),
                blessing=channel.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
