"""BaselineScores component: a ComponentSpec with typed channels, and its executor binding."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.naive_baselines import scores_executor as executor_lib
from components.naive_baselines.params import ScoreSettings
from components.naive_baselines.scores_executor import Executor
from components.shared.artifacts import NaiveBaselineScores
from components.shared.params import component_fingerprint, encode

__all__ = ["BaselineScores", "BaselineScoresSpec"]


class BaselineScoresSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.SETTINGS_KEY: component_spec.ExecutionParameter(type=str),
        executor_lib.CODE_FINGERPRINT_KEY: component_spec.ExecutionParameter(
            type=str, optional=True),
    }
    INPUTS = {
        # Raw examples with `train` and `eval` splits: the same ones the Evaluator reads.
        "examples": component_spec.ChannelParameter(type=standard_artifacts.Examples),
        # The trained model: its `transform_features` signature gives the label and features.
        "model": component_spec.ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        "scores": component_spec.ChannelParameter(type=NaiveBaselineScores),
    }


class BaselineScores(base_component.BaseComponent):
    """Fits the naive baselines on the train split (`components/naive_baselines/fit.py`) and
    evaluates them with TFMA on the eval split and the slices of `settings.eval_config`. It
    does not wait for the model's evaluation, so it runs beside the Evaluator; NaiveBaselines
    judges the model against its `scores`."""

    SPEC_CLASS = BaselineScoresSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: channel.BaseChannel, model: channel.BaseChannel,
                 settings: ScoreSettings):
        super().__init__(
            spec=BaselineScoresSpec(
                examples=examples,
                model=model,
                settings=encode(settings),
                code_fingerprint=component_fingerprint(__file__),
                scores=channel.Channel(type=NaiveBaselineScores),
            )
        )
