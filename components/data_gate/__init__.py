"""DataGate: one anomaly table from the validation results; halts the run on what halts.

Imports `components.shared`.
"""

from components.data_gate.component import DataGate
from components.data_gate.executor import DataValidationError
from components.data_gate.params import GateRules
from components.shared.artifacts import DataValidationResult

__all__ = ["DataGate", "DataValidationError", "DataValidationResult", "GateRules"]
