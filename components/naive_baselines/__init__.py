"""The naive baselines, two components: BaselineScores fits trivial predictors on the train
split and evaluates them by TFMA on the eval split and slices the model is evaluated on (beside
the Evaluator); NaiveBaselines, the lift gate, blesses the model only when the Evaluator did and
the model beats them.

Imports `components.shared`.
"""

from components.naive_baselines.component import NaiveBaselines
from components.naive_baselines.params import BaselineSettings, ScoreSettings
from components.naive_baselines.scores_component import BaselineScores
from components.shared.artifacts import NaiveBaselineMetrics, NaiveBaselineScores

__all__ = ["BaselineScores", "BaselineSettings", "NaiveBaselineMetrics", "NaiveBaselineScores",
           "NaiveBaselines", "ScoreSettings"]
