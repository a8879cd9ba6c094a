"""The optimization stage's components, wired from the [optimization] config section.

ModelOptimizer (pruned SavedModel, TFLite dynamic-range and int8) -> PrunedModelEvaluator (the
stock Evaluator: pruned candidate, dense baseline, same slices) -> VariantEvaluator (the same
per-slice judgement for every variant, and latency). Its `variants` output goes to the
VersionedPusher, which pushes the blessed variants beside the dense model, in the same version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tfx.components import Evaluator  # not tfx.v1: it imports the Google Cloud extensions

from components.model_optimizer import ModelOptimizer
from components.variant_evaluator import VariantEvaluator
from pipeline.config import Config
from pipeline.variant_eval_config import build_variant_eval_config

COMPONENTS_DIR = Path(__file__).resolve().parents[1] / "components"
PRUNED_EVALUATOR_ID = "PrunedModelEvaluator"


def stage_fingerprint() -> str:
    """Hash of the stage's executors: part of their cache key, as the user modules' hash is of
    Transform's and Trainer's (TFX does not fingerprint an executor class's code)."""
    digest = hashlib.sha256()
    for folder in ("model_optimizer", "variant_evaluator"):
        for path in sorted((COMPONENTS_DIR / folder).glob("*.py")):
            if not path.name.endswith("_test.py"):
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def judgement_rules(config: Config) -> dict[str, dict[str, Any]]:
    rules = {}
    for name, tolerance in config.variant_tolerance.items():
        _, tfma_key, higher_is_better = config.metric_spec(name)
        rules[name] = {"tolerance": tolerance, "higher_is_better": higher_is_better,
                       "tfma_key": tfma_key}
    return rules


def optimization_components(config: Config, module_config: dict[str, Any], examples: Any,
                            schema_gen: Any, transform: Any, trainer: Any
                            ) -> tuple[list[Any], Any]:
    """(components to add, the `variants` channel for the pusher); ([], None) when disabled."""
    settings = config.optimization
    if not settings.enabled:
        return [], None
    fingerprint = stage_fingerprint()
    optimizer = ModelOptimizer(
        model=trainer.outputs["model"],
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        module_config=json.dumps(module_config, sort_keys=True),
        optimization=json.dumps(asdict(settings), sort_keys=True),
        code_fingerprint=fingerprint,
    )
    components: list[Any] = [optimizer]
    pruned_evaluation = None
    if "pruned" in settings.variants:
        evaluator = Evaluator(
            examples=examples,
            model=optimizer.outputs["pruned_model"],
            baseline_model=trainer.outputs["model"],
            eval_config=build_variant_eval_config(config),
        ).with_id(PRUNED_EVALUATOR_ID)
        components.append(evaluator)
        pruned_evaluation = evaluator.outputs["evaluation"]
    variant_evaluator = VariantEvaluator(
        examples=examples,
        model=trainer.outputs["model"],
        transform_graph=transform.outputs["transform_graph"],
        optimized_models=optimizer.outputs["optimized_models"],
        pruned_model=optimizer.outputs["pruned_model"] if pruned_evaluation else None,
        pruned_evaluation=pruned_evaluation,
        module_config=json.dumps(module_config, sort_keys=True),
        rules=json.dumps(judgement_rules(config), sort_keys=True),
        decision_threshold=config.evaluation.decision_threshold,
        slices=json.dumps(config.evaluation.slices),
        min_slice_examples=settings.min_slice_examples,
        min_class_examples=settings.min_class_examples,
        latency_calls=settings.latency_calls,
        code_fingerprint=fingerprint,
    )
    components.append(variant_evaluator)
    return components, variant_evaluator.outputs["variants"]
