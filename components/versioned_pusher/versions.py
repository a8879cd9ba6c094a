"""The serving folder's layout, as TensorFlow Serving reads it: `<model_name>/<N>/`, integer
versions, each with the `manifest.json` the pusher writes beside the model.

Plain Python (no TensorFlow): `tfxpipe runs`, lineage and the review read versions with it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

MANIFEST_FILE = "manifest.json"
SCHEMA_FILE = "schema.pbtxt"  # the schema the version's model was trained with, beside it
TEMP_PREFIX = ".tmp-"  # a version being assembled: Serving ignores dot-named folders
_VERSION_NAME = re.compile(r"[0-9]+")


def existing_versions(model_dir: str) -> list[int]:
    """Integer-named directories only: temp dirs and stray files are not versions to Serving."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(name) for name in os.listdir(model_dir)
        if _VERSION_NAME.fullmatch(name) and os.path.isdir(os.path.join(model_dir, name)))


def next_version(model_dir: str) -> int:
    """One above every version on disk and every number ever issued here (a version deleted by
    hand does not give its number to the next push: ML Metadata, manifests and lineage keep
    naming the old model by it)."""
    return max(max(existing_versions(model_dir), default=0), last_issued(model_dir)) + 1


def issued_file(model_dir: str) -> str:
    """`<serving dir>/.<model name>.last-version`: beside the model's folder, so the folder
    holds versions only, as Serving reads it."""
    parent, name = os.path.split(os.path.normpath(model_dir))
    return os.path.join(parent, f".{name}.last-version")


def last_issued(model_dir: str) -> int:
    """The highest version number issued in `model_dir` (0 when none, or unreadable)."""
    try:
        with open(issued_file(model_dir), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 0


def read_manifest(model_dir: str, version: int) -> dict[str, Any] | None:
    path = os.path.join(model_dir, str(version), MANIFEST_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def version_of_model(model_dir: str, model_uri: str) -> int | None:
    """The pushed version whose manifest names this model artifact uri (the newest if several)."""
    for version in reversed(existing_versions(model_dir)):
        recorded = read_manifest(model_dir, version)
        if recorded and (recorded.get("model") or {}).get("uri") == model_uri:
            return version
    return None


def variants_uri(manifest: dict[str, Any] | None) -> str | None:
    """The VariantEvaluator artifact a version's variants came from, if it has any."""
    source = ((manifest or {}).get("optimization") or {}).get("variants_artifact") or {}
    return source.get("uri")
