"""What a review shows when a run has no such thing: one plain sentence instead of a table."""

from __future__ import annotations

import html

NOT_AVAILABLE = "not available for this run"


class NotAvailable:
    """Stands in for a table or figure a run does not have; says so, and why, when displayed.

    A notebook cell that ends with one shows the sentence; the HTML report prints it in place of
    the section's table.
    """

    def __init__(self, reason: str = ""):
        self.reason = reason

    @property
    def text(self) -> str:
        return f"{NOT_AVAILABLE}: {self.reason}" if self.reason else NOT_AVAILABLE

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<p class="not-available"><em>{html.escape(self.text)}</em></p>'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NotAvailable) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def available(value: object) -> bool:
    return not isinstance(value, NotAvailable)
