"""SpanValidation: the data gates of many spans in one execution and one Beam job (backfill)."""

from components.span_validation.component import SpanValidation

__all__ = ["SpanValidation"]
