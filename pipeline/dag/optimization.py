"""The optimization stage, wired from the [optimization] section.

ModelOptimizer (pruned SavedModel, TFLite dynamic-range and int8) -> PrunedModelEvaluator (the
stock Evaluator: pruned candidate, dense baseline, same slices) -> VariantEvaluator (the same
per-slice judgement for every variant, and latency). Its `variants` output goes to the
VersionedPusher, which pushes the blessed variants beside the dense model, in the same version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfx.components import Evaluator  # not tfx.v1: it imports the Google Cloud extensions

from components.model_optimizer import ModelOptimizer, OptimizationSettings
from components.variant_evaluator import MetricRule, VariantEvaluator, VariantJudgement
from pipeline.config import Config
from pipeline.dag.evaluation import pruned_eval_config
from pipeline.dag.nodes import PRUNED_EVALUATOR
from pipeline.dag.user_code import TRAINER_MODULE


@dataclass(frozen=True)
class TrainedModel:
    """The channels the stage starts from: the Trainer's model and Transform's outputs."""

    model: Any
    transformed_examples: Any
    transform_graph: Any
    schema: Any
    raw_examples: Any  # the window's raw Examples (its eval split is judged)


def optimization_settings(config: Config) -> OptimizationSettings:
    opt, model = config.optimization, config.model
    return OptimizationSettings(
        variants=tuple(opt.variants), task=config.label.kind,
        target_sparsity=opt.target_sparsity, finetune_steps=opt.finetune_steps,
        pruning_begin_step=opt.pruning_begin_step, pruning_end_step=opt.pruning_end_step,
        pruning_frequency=opt.pruning_frequency,
        learning_rate=opt.finetune_learning_rate or model.learning_rate,
        batch_size=model.batch_size, seed=model.seed, class_weight=model.class_weight,
        representative_samples=opt.representative_samples)


def variant_judgement(config: Config) -> VariantJudgement:
    rules = []
    for name, tolerance in config.variant_tolerance.items():
        _, tfma_key, higher_is_better = config.metric_spec(name)
        rules.append(MetricRule(name, tolerance, higher_is_better, tfma_key))
    opt = config.optimization
    return VariantJudgement(
        task=config.label.kind, rules=tuple(rules),
        decision_threshold=config.evaluation.decision_threshold,
        slices=tuple(tuple(s) for s in config.evaluation.slices),
        min_slice_examples=opt.min_slice_examples, min_class_examples=opt.min_class_examples,
        latency_calls=opt.latency_calls)


def optimization_components(config: Config, custom_config: dict[str, Any],
                            trained: TrainedModel) -> tuple[list[Any], Any]:
    """(components to add, the `variants` channel for the pusher); ([], None) when disabled."""
    if not config.optimization.enabled:
        return [], None
    optimizer = ModelOptimizer(
        model=trained.model, transformed_examples=trained.transformed_examples,
        transform_graph=trained.transform_graph, settings=optimization_settings(config),
        module=TRAINER_MODULE, custom_config=custom_config, schema=trained.schema)
    components: list[Any] = [optimizer]
    pruned_evaluation = None
    if "pruned" in config.optimization.variants:
        evaluator = Evaluator(
            examples=trained.raw_examples,
            model=optimizer.outputs["pruned_model"],
            baseline_model=trained.model,
            eval_config=pruned_eval_config(config),
        ).with_id(PRUNED_EVALUATOR)
        components.append(evaluator)
        pruned_evaluation = evaluator.outputs["evaluation"]
    variant_evaluator = VariantEvaluator(
        examples=trained.raw_examples, model=trained.model,
        optimized_models=optimizer.outputs["optimized_models"],
        judgement=variant_judgement(config), pruned_evaluation=pruned_evaluation)
    components.append(variant_evaluator)
    return components, variant_evaluator.outputs["variants"]
