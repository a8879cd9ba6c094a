"""The Tuner node: TFX's standard Tuner (KerasTuner) before the Trainer, when [tuning] is on.

It searches on the Transform's output with the Tuner module (`pipeline/modules/tuning.py`) and
its `best_hyperparameters` become the Trainer's `hyperparameters` input. Its inputs and
properties are the transformed data, the search space and budget, and the modules' hash: a
rerun with the same data and space is a cache hit and does not tune again.
"""

from __future__ import annotations

from typing import Any

from tfx.components import Tuner
from tfx.proto import trainer_pb2

from pipeline.dag import nodes, user_code


def tuner_node(tuner_config: dict[str, Any], train_steps: int, eval_steps: int,
               examples: Any, transform_graph: Any, schema: Any) -> Any:
    """The Tuner of transformed `examples`, with `tuner_config` (user_code.tuner_config) and
    `train_steps` steps per trial."""
    return Tuner(
        tuner_fn=user_code.TUNER_FN, examples=examples, transform_graph=transform_graph,
        schema=schema, train_args=trainer_pb2.TrainArgs(num_steps=train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=eval_steps),
        custom_config=tuner_config).with_id(nodes.TUNER)
