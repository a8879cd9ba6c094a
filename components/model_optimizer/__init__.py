"""ModelOptimizer: a pruned SavedModel and TFLite models of the trained model.

Imports `components.shared`; the user module (`module=`) exports the pruned model.
"""

from components.model_optimizer.component import ModelOptimizer, ModelOptimizerSpec
from components.model_optimizer.params import OptimizationSettings

__all__ = ["ModelOptimizer", "ModelOptimizerSpec", "OptimizationSettings"]
