"""VariantEvaluator component: per-slice judgement and latency of every optimized variant."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact, channel, component_spec, standard_artifacts

from components.model_optimizer.component import OptimizedModels
from components.variant_evaluator import executor as executor_lib
from components.variant_evaluator.executor import Executor

__all__ = ["ModelVariants", "VariantEvaluator", "VariantEvaluatorSpec"]

_Channel = component_spec.ChannelParameter
_Param = component_spec.ExecutionParameter


class ModelVariants(artifact.Artifact):
    """`variants.json`: each variant's verdict, per-slice deltas, sizes, latency and files;
    custom property `blessed_variants` (comma-separated names)."""

    TYPE_NAME = "ModelVariants"


class VariantEvaluatorSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.MODULE_CONFIG_KEY: _Param(type=str),
        executor_lib.RULES_KEY: _Param(type=str),
        executor_lib.DECISION_THRESHOLD_KEY: _Param(type=float, optional=True),
        executor_lib.SLICES_KEY: _Param(type=str),
        executor_lib.MIN_SLICE_EXAMPLES_KEY: _Param(type=int),
        executor_lib.MIN_CLASS_EXAMPLES_KEY: _Param(type=int, optional=True),
        executor_lib.LATENCY_CALLS_KEY: _Param(type=int),
        executor_lib.CODE_FINGERPRINT_KEY: _Param(type=str, optional=True),
    }
    INPUTS = {
        executor_lib.EXAMPLES_KEY: _Channel(type=standard_artifacts.Examples),
        executor_lib.MODEL_KEY: _Channel(type=standard_artifacts.Model),
        executor_lib.TRANSFORM_GRAPH_KEY: _Channel(type=standard_artifacts.TransformGraph),
        executor_lib.OPTIMIZED_MODELS_KEY: _Channel(type=OptimizedModels),
        executor_lib.PRUNED_MODEL_KEY: _Channel(type=standard_artifacts.Model, optional=True),
        executor_lib.PRUNED_EVALUATION_KEY: _Channel(
            type=standard_artifacts.ModelEvaluation, optional=True),
    }
    OUTPUTS = {
        executor_lib.VARIANTS_KEY: _Channel(type=ModelVariants),
    }


class VariantEvaluator(base_component.BaseComponent):
    """Blesses or rejects each variant: its loss against the dense model on every metric with a
    tolerance stays within it overall and on every slice of at least `min_slice_examples` (and,
    for AUC and PR-AUC, `min_class_examples` of each class).

    `rules` (JSON): {metric: {"tolerance", "higher_is_better", "tfma_key"}}; `slices` (JSON): the
    pipeline's slicing columns; `examples`: ExampleGen's raw examples (eval split);
    `pruned_evaluation`: the TFMA evaluation of `pruned_model` against the dense model.
    """

    SPEC_CLASS = VariantEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        examples: channel.BaseChannel,
        model: channel.BaseChannel,
        transform_graph: channel.BaseChannel,
        optimized_models: channel.BaseChannel,
        module_config: str,
        rules: str,
        slices: str,
        min_slice_examples: int,
        latency_calls: int,
        decision_threshold: float | None = None,
        min_class_examples: int | None = None,
        pruned_model: channel.BaseChannel | None = None,
        pruned_evaluation: channel.BaseChannel | None = None,
        code_fingerprint: str | None = None,
    ):
        super().__init__(
            spec=VariantEvaluatorSpec(
                examples=examples,
                model=model,
                transform_graph=transform_graph,
                optimized_models=optimized_models,
                pruned_model=pruned_model,
                pruned_evaluation=pruned_evaluation,
                module_config=module_config,
                rules=rules,
                decision_threshold=decision_threshold,
                slices=slices,
                min_slice_examples=min_slice_examples,
                min_class_examples=min_class_examples,
                latency_calls=latency_calls,
                code_fingerprint=code_fingerprint,
                variants=channel.Channel(type=ModelVariants),
            )
        )
