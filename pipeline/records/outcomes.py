"""What a run ended as: its exit code and outcome name, an error in one line, and its
`summary.json`. Plain Python: the CLI imports it before TensorFlow loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.shared.files import to_json, write_atomically

EXIT_PUSHED = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_BLESSED = 3
EXIT_DATA_HALT = 4

OUTCOMES = {
    EXIT_PUSHED: "pushed",
    EXIT_ERROR: "error",
    EXIT_USAGE: "config error",
    EXIT_NOT_BLESSED: "not blessed",
    EXIT_DATA_HALT: "halted by data validation",
}


def one_line(error: BaseException) -> str:
    """`Type: the last line of its message`, at most 300 characters."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:300]


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """`summary.json` in the run's folder, written aside and renamed into place."""
    return write_atomically(run_dir / "summary.json", to_json(summary))
