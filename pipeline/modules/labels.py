"""What the label is made of, in plain Python: the raw columns it is computed from, how it
reads, and how a binary label's cell is read. The data gates record the first two with every
drift measurement (the function that computes it is `transform.raw_label`); the pre-flight reads
every cell of a binary label with `binary_class`, as `transform.binary_label` does in the graph.
"""

from __future__ import annotations

import re
from typing import Any

# A binary label without `derive` or `positive_values`: a number (positive is 1), or one of these
# words in any case (as pandas writes a bool column, or a survey's answers).
TRUE_WORDS = ("true", "yes", "y", "t")
FALSE_WORDS = ("false", "no", "n", "f")
NUMBER = r"[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?"  # Python's re and TF's RE2 alike


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
        return f"{column} > 0 or true/yes"
    return column


def binary_class(text: str, positive_values: list[str] | None) -> int | None:
    """1 or 0 for a present cell (stripped) of a binary label that is not derived, as the
    pipeline reads it; None for text it cannot read as either."""
    if positive_values is not None:
        return int(text in positive_values or (
            re.fullmatch(NUMBER, text) is not None
            and float(text) in numeric_values(positive_values)))
    if re.fullmatch(NUMBER, text):
        return int(float(text) > 0)
    word = text.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return int(word in TRUE_WORDS)
    return None


def numeric_values(positive_values: list[str]) -> list[float]:
    """The positive values that are numbers: they match a cell of the same number however it
    is written ("1.0" matches 1, as a float column holds it)."""
    return [float(v) for v in positive_values if re.fullmatch(NUMBER, str(v).strip())]
