"""SpanValidation: the data gates of many spans in one execution and one Beam job (backfill).

Imports `components.shared` and the library code of DataDrift and DataGate, whose checks it
runs span by span.
"""

from components.span_validation.component import SpanValidation

__all__ = ["SpanValidation"]
