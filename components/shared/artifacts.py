"""The custom artifact types the components exchange, with the files each one holds.

Kept in one module (as TFX keeps its own in `tfx.types.standard_artifacts`) so a component can
take another's output without importing that component. The type names are what ML Metadata
records: renaming one would orphan every artifact of that type already in a store.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx.dsl.io import fileio
from tfx.types import artifact

from components.shared.files import to_json


class DataDriftReport(artifact.Artifact):
    """`drift.json` (every drift and skew measurement, exceeded or not) and the statistics
    compared. Custom properties: `span`, `previous_span` (-1 without one), `drift_exceeded`,
    `skew_exceeded`, `examples_id`, and one float per measurement, `drift:<feature>` and
    `skew:<feature>`, so values can be trended from ML Metadata."""

    TYPE_NAME = "DataDriftReport"
    FILE = "drift.json"


class DataValidationResult(artifact.Artifact):
    """A data gate's verdict: `result.json` with the anomaly table; custom properties `passed`,
    `anomaly_count`, `validation_key`, and the `span` and `examples_id` it validated."""

    TYPE_NAME = "DataValidationResult"
    FILE = "result.json"


class OptimizedModels(artifact.Artifact):
    """The TFLite models with their device preprocessing, and `optimization.json`: files,
    sizes and sparsity of the dense model and of every variant."""

    TYPE_NAME = "OptimizedModels"
    FILE = "optimization.json"


class ModelVariants(artifact.Artifact):
    """`variants.json`: each optimized variant's verdict, per-slice deltas, sizes, latency and
    files; custom property `blessed_variants` (comma-separated names)."""

    TYPE_NAME = "ModelVariants"
    FILE = "variants.json"


def span_of(examples: artifact.Artifact) -> int:
    """ExampleGen's span of an Examples artifact (a custom property); 0 without one."""
    if examples.has_custom_property("span"):
        return int(examples.get_int_custom_property("span"))
    return 0


def read_json(artifact_uri: str, name: str) -> dict[str, Any] | None:
    """The JSON file `name` of an artifact folder; None when it is missing or unreadable."""
    path = os.path.join(artifact_uri, name)
    if not fileio.exists(path):
        return None
    try:
        with fileio.open(path, "r") as handle:
            return json.loads(handle.read())
    except (OSError, ValueError, fileio.NotFoundError):
        return None


def write_json(artifact_uri: str, name: str, content: Any) -> str:
    """Writes `content` as sorted, strict JSON (NaN and infinities become null); its path.
    Written aside, then renamed (with TFX's file system, so on any artifact store): a run
    killed while writing leaves the old file or none, never a part of one."""
    path = os.path.join(artifact_uri, name)
    fileio.makedirs(artifact_uri)
    aside = os.path.join(artifact_uri, f".{name}.tmp")
    with fileio.open(aside, "w") as handle:
        handle.write(to_json(content))
    fileio.rename(aside, path, overwrite=True)
    return path


class NaiveBaselineScores(artifact.Artifact):
    """`scores.json`: the naive baselines fitted on the train split (name -> description), the
    rows read, and each baseline's metrics per slice on the eval split; TFMA's output under
    `tfma/`. What the lift gate (NaiveBaselineMetrics) judges the model against."""

    TYPE_NAME = "NaiveBaselineScores"
    FILE = "scores.json"


class NaiveBaselineMetrics(artifact.Artifact):
    """`baselines.json`: each naive baseline's metrics per slice on the eval split, the model's
    lift over the best of them on the gated metric and the verdict; TFMA's output of the
    baselines under `tfma/`. Custom properties: `lift`, `best_baseline`, `passed`."""

    TYPE_NAME = "NaiveBaselineMetrics"
    FILE = "baselines.json"
