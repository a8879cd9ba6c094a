"""ModelOptimizer: pruned SavedModel and TFLite (dynamic-range, int8) variants of a model."""

from components.model_optimizer.component import ModelOptimizer, ModelOptimizerSpec, OptimizedModels

__all__ = ["ModelOptimizer", "ModelOptimizerSpec", "OptimizedModels"]
