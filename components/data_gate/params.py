"""The DataGate's rules: which anomalies halt, and what a verdict is recorded under."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateRules:
    """Every anomaly halts the run (raises), except the kinds in `report_only`, which are
    reported in the table; with `halt` false nothing raises (the verdict is still recorded).
    `validation_key` is a hash of what the verdict depends on besides the data (schema,
    thresholds), recorded in the result so that a span validated under other rules is validated
    again."""

    report_only: tuple[str, ...] = ()
    validation_key: str = ""
    halt: bool = True
