"""NaiveBaselines: trivial predictors fitted on the train split, evaluated by TFMA on the eval
split and slices the model was evaluated on; a blessing that also asks the model to beat them.

Imports `components.shared`.
"""

from components.naive_baselines.component import NaiveBaselines
from components.naive_baselines.params import BaselineSettings
from components.shared.artifacts import NaiveBaselineMetrics

__all__ = ["BaselineSettings", "NaiveBaselineMetrics", "NaiveBaselines"]
