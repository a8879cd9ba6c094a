"""`show(x)`: one call that displays any review result in a notebook.

Tables (DataFrames, with a sentence when empty), Stylers, figures (as PNG), `NotAvailable`
(its sentence) and text.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from pipeline.review.figures import png_bytes
from pipeline.review.unavailable import NotAvailable


def number_formats(frame: pd.DataFrame) -> dict[str, str]:
    formats = {}
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            counts = column in ("example_count", "count", "rows", "bytes") or column.startswith(
                "size")
            formats[column] = "{:.0f}" if counts else "{:.4g}"
    return formats


def show(value: Any, caption: str | None = None) -> None:
    from IPython.display import HTML, Image, display

    if caption:
        display(HTML(f"<h4>{html.escape(caption)}</h4>"))
    if isinstance(value, NotAvailable):
        display(value)
    elif isinstance(value, pd.DataFrame):
        if value.empty:
            display(HTML(f"<p><em>{html.escape(value.attrs.get('empty', 'nothing'))}</em></p>"))
        else:
            display(escaped(value.style, number_formats(value)))
    elif hasattr(value, "savefig"):
        display(Image(png_bytes(value)))
    elif isinstance(value, str):
        print(value)
    else:
        display(value)


def escaped(styler, formats: dict[str, Any] | None = None):
    """The Styler with every cell and column name escaped as HTML, numbers in `formats`, no
    index: a value or a column named like a tag shows as text, as in the HTML report (a
    Styler does not escape unless told)."""
    return (styler.format(na_rep="-", escape="html")
            .format(formats or {}, na_rep="-", escape="html")
            .format_index(escape="html", axis=1).hide(axis="index"))
