"""SpanWindow: the spans of a training window as one Examples artifact.

Imports `components.shared`.
"""

from components.span_window.component import SpanWindow

__all__ = ["SpanWindow"]
