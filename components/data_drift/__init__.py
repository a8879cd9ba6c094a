"""DataDrift: TFDV comparators on a span vs the previous span, and on train vs eval."""

from components.data_drift.component import DataDrift, DataDriftReport

__all__ = ["DataDrift", "DataDriftReport"]
