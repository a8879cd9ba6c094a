"""DataDrift: TFDV comparators on a span vs the previous span, and on train vs eval.

Imports `components.shared`; the label function is the user's, named in `LabelSpec`.
"""

from components.data_drift.component import DataDrift
from components.data_drift.params import LabelSpec, MinimumExamples
from components.shared.artifacts import DataDriftReport

__all__ = ["DataDrift", "DataDriftReport", "LabelSpec", "MinimumExamples"]
