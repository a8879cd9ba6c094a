"""How the CSV files are written: what the reader must know to read them as their author meant."""

from __future__ import annotations

from dataclasses import dataclass, field

# What a missing value is written as, in published CSVs: R's NA, Excel's and databases' exports.
# Compared case-insensitively, with surrounding spaces ignored.
DEFAULT_MISSING_VALUES = ("", "NA", "N/A", "NaN", "null", "None", "-")
COLUMN_TYPES = ("int", "float", "bytes")


@dataclass(frozen=True)
class CsvFormat:
    """`delimiter`: one character; `missing_values`: cells read as missing (case-insensitive,
    surrounding spaces ignored); `column_types`: {column: int, float or bytes}, what a column is
    encoded as (a curated schema's types); a column not named is typed from its values, as TFX's
    CsvExampleGen types it: int if every present value is an integer, else float if every one
    is a number, else bytes."""

    delimiter: str = ","
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    column_types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1 or self.delimiter in ('"', "\n", "\r"):
            raise ValueError(f"the CSV delimiter must be one character other than a quote or a "
                             f"line break, got {self.delimiter!r}")
        unknown = sorted({t for t in self.column_types.values() if t not in COLUMN_TYPES})
        if unknown:
            raise ValueError(f"column types must be {', '.join(COLUMN_TYPES)}, got {unknown}")
