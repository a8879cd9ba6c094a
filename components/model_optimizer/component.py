"""ModelOptimizer component: pruning and TFLite quantization of the Trainer's model."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import artifact, channel, component_spec, standard_artifacts

from components.model_optimizer import executor as executor_lib
from components.model_optimizer.executor import Executor

__all__ = ["ModelOptimizer", "ModelOptimizerSpec", "OptimizedModels"]

_Channel = component_spec.ChannelParameter
_Param = component_spec.ExecutionParameter


class OptimizedModels(artifact.Artifact):
    """TFLite models with their device preprocessing, and `optimization.json` (sizes, sparsity)
    of every variant and of the dense model."""

    TYPE_NAME = "OptimizedModels"


class ModelOptimizerSpec(component_spec.ComponentSpec):
    """The JSON parameters are strings so that they stay part of the cache key as they are."""

    PARAMETERS = {
        executor_lib.MODULE_CONFIG_KEY: _Param(type=str),
        executor_lib.OPTIMIZATION_KEY: _Param(type=str),
        executor_lib.CODE_FINGERPRINT_KEY: _Param(type=str, optional=True),
    }
    INPUTS = {
        executor_lib.MODEL_KEY: _Channel(type=standard_artifacts.Model),
        executor_lib.TRANSFORMED_EXAMPLES_KEY: _Channel(type=standard_artifacts.Examples),
        executor_lib.TRANSFORM_GRAPH_KEY: _Channel(type=standard_artifacts.TransformGraph),
        executor_lib.SCHEMA_KEY: _Channel(type=standard_artifacts.Schema, optional=True),
    }
    OUTPUTS = {
        executor_lib.PRUNED_MODEL_KEY: _Channel(type=standard_artifacts.Model),
        executor_lib.OPTIMIZED_MODELS_KEY: _Channel(type=OptimizedModels),
    }


class ModelOptimizer(base_component.BaseComponent):
    """Makes the configured variants of the trained model (see executor.py for the layout).

    `module_config` is the Trainer's custom_config (JSON), so the pruned model is rebuilt and
    exported by the Trainer's own code; `optimization` is the [optimization] config section.
    """

    SPEC_CLASS = ModelOptimizerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        model: channel.BaseChannel,
        transformed_examples: channel.BaseChannel,
        transform_graph: channel.BaseChannel,
        module_config: str,
        optimization: str,
        schema: channel.BaseChannel | None = None,
        code_fingerprint: str | None = None,
    ):
        super().__init__(
            spec=ModelOptimizerSpec(
                model=model,
                transformed_examples=transformed_examples,
                transform_graph=transform_graph,
                schema=schema,
                module_config=module_config,
                optimization=optimization,
                code_fingerprint=code_fingerprint,
                pruned_model=channel.Channel(type=standard_artifacts.Model),
                optimized_models=channel.Channel(type=OptimizedModels),
            )
        )
