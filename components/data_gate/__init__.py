"""DataGate: stops the pipeline before Transform when data validation found anomalies."""

from components.data_gate.component import DataGate, DataValidationError

__all__ = ["DataGate", "DataValidationError"]
