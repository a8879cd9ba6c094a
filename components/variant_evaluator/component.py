"""VariantEvaluator component: per-slice judgement and latency of every optimized variant."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.shared.artifacts import ModelVariants, OptimizedModels
from components.shared.params import component_fingerprint, encode
from components.variant_evaluator import executor as executor_lib
from components.variant_evaluator.executor import Executor
from components.variant_evaluator.params import VariantJudgement

__all__ = ["VariantEvaluator", "VariantEvaluatorSpec"]

_Channel = component_spec.ChannelParameter
_Param = component_spec.ExecutionParameter


class VariantEvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.JUDGEMENT_KEY: _Param(type=str),
        executor_lib.CODE_FINGERPRINT_KEY: _Param(type=str, optional=True),
    }
    INPUTS = {
        executor_lib.EXAMPLES_KEY: _Channel(type=standard_artifacts.Examples),
        executor_lib.MODEL_KEY: _Channel(type=standard_artifacts.Model),
        executor_lib.OPTIMIZED_MODELS_KEY: _Channel(type=OptimizedModels),
        executor_lib.PRUNED_EVALUATION_KEY: _Channel(
            type=standard_artifacts.ModelEvaluation, optional=True),
    }
    OUTPUTS = {
        executor_lib.VARIANTS_KEY: _Channel(type=ModelVariants),
    }


class VariantEvaluator(base_component.BaseComponent):
    """Blesses or rejects each optimized variant against the dense model (see
    `VariantJudgement`), and measures batch-1 latency of every model.

    `examples`: the raw Examples the model was evaluated on (their eval split); `model`: the
    Trainer's model (its `transform_features` signature gives the transformed features and the
    label; its `keras_model/` scores them); `optimized_models`: ModelOptimizer's output;
    `pruned_evaluation`: the TFMA evaluation of the pruned model against the dense one (needed
    when a SavedModel variant is among the optimized models).
    """

    SPEC_CLASS = VariantEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, examples: channel.BaseChannel, model: channel.BaseChannel,
                 optimized_models: channel.BaseChannel, judgement: VariantJudgement,
                 pruned_evaluation: channel.BaseChannel | None = None):
        super().__init__(
            spec=VariantEvaluatorSpec(
                examples=examples,
                model=model,
                optimized_models=optimized_models,
                pruned_evaluation=pruned_evaluation,
                judgement=encode(judgement),
                # TFX does not fingerprint an executor's code: editing it is a new input.
                code_fingerprint=component_fingerprint(__file__),
                variants=channel.Channel(type=ModelVariants),
            )
        )
