"""What the label is made of, in plain Python: the raw columns it is computed from, and how it
reads. The data gates record both with every drift measurement (the function that computes it
is `transform.raw_label`)."""

from __future__ import annotations

from typing import Any


def source_columns(label_config: dict[str, Any]) -> list[str]:
    """The raw columns the label is computed from."""
    derive = label_config.get("derive")
    return [label_config["column"], *([derive["denominator"]] if derive else [])]


def rule_text(label_config: dict[str, Any]) -> str:
    """A readable statement of the label, e.g. 'tips > 0.2 * fare'."""
    column = label_config["column"]
    derive = label_config.get("derive")
    if derive:
        return f"{column} > {derive['threshold']:g} * {derive['denominator']}"
    if label_config.get("positive_values") is not None:
        return f"{column} in {list(label_config['positive_values'])}"
    if label_config["kind"] == "binary":
        return f"{column} > 0"
    return column
