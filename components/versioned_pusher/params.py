"""The VersionedPusher's parameter objects: where it pushes, what the manifest links to, and the
values it records as given. Plain Python; the component serialises them itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PushDestination:
    """Versions go to `<serving_dir>/<model_name>/<N>/`."""

    serving_dir: str
    model_name: str


@dataclass(frozen=True)
class PushEvidence:
    """Optional channels the manifest links the version to (all absent on a bare push)."""

    model_evaluation: Any = None   # the Evaluator's evaluation: metrics overall and per slice
    baseline_model: Any = None     # the model the candidate was compared with
    schema: Any = None             # copied into the version as schema.pbtxt
    examples: Any = None           # the Examples trained on (several: the spans of a window)


@dataclass(frozen=True)
class Provenance:
    """Values recorded in the manifest as given (JSON-friendly): the input files and spans, the
    hyperparameters and the code revision; null in the manifest when not given."""

    data_files: tuple[dict[str, Any], ...] | None = None
    spans: tuple[dict[str, Any], ...] | None = None
    hyperparameters: dict[str, Any] | None = None
    code_revision: dict[str, Any] | None = None
