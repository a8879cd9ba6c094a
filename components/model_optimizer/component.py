"""ModelOptimizer component: pruning and TFLite quantization of the Trainer's model."""

from __future__ import annotations

from typing import Any

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.model_optimizer import executor as executor_lib
from components.model_optimizer.executor import Executor
from components.model_optimizer.params import OptimizationSettings
from components.shared import user_code
from components.shared.artifacts import OptimizedModels
from components.shared.params import encode

__all__ = ["ModelOptimizer", "ModelOptimizerSpec"]

_Channel = component_spec.ChannelParameter
_Param = component_spec.ExecutionParameter


class ModelOptimizerSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        executor_lib.SETTINGS_KEY: _Param(type=str),
        executor_lib.CUSTOM_CONFIG_KEY: _Param(type=str),
        user_code.MODULE_PATH_KEY: _Param(type=str, optional=True),
        user_code.MODULE_FILE_KEY: _Param(type=str, optional=True),
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

    `module` is the Trainer's user module, as an import path (`pipeline.modules.trainer`) or a
    Python file: the executor calls two of its functions, as TFX's Trainer calls `run_fn`:
    - `export_serving_model(model, tf_transform_output, custom_config, serving_model_dir)`,
      which exports the pruned model with the dense model's signatures;
    - `describe_model_inputs(custom_config)`: one dict per model input, in the model's order,
      with `name`, `source` (the raw column), `kind` (`numeric`, `bucket` or `categorical`),
      `vocabulary` (a categorical's vocabulary file name), `oov_buckets` and `missing` (the
      text a missing categorical value becomes): what the TFLite models' preprocessing.json
      describes.
    `custom_config` is the Trainer's, passed to those functions as is.
    """

    SPEC_CLASS = ModelOptimizerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: channel.BaseChannel, transformed_examples: channel.BaseChannel,
                 transform_graph: channel.BaseChannel, settings: OptimizationSettings,
                 module: str, custom_config: dict[str, Any],
                 schema: channel.BaseChannel | None = None):
        module_file = module if module.endswith(".py") else None
        module_path = None if module_file else module
        super().__init__(
            spec=ModelOptimizerSpec(
                model=model,
                transformed_examples=transformed_examples,
                transform_graph=transform_graph,
                schema=schema,
                settings=encode(settings),
                custom_config=encode(custom_config),
                **user_code.module_properties(module_path, module_file),
                # TFX fingerprints neither an executor's code nor a module given by path.
                code_fingerprint=user_code.user_code_fingerprint(__file__, module_path,
                                                                 module_file),
                pruned_model=channel.Channel(type=standard_artifacts.Model),
                optimized_models=channel.Channel(type=OptimizedModels),
            )
        )
