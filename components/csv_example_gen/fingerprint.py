"""ExampleGen's input fingerprint of a span, with the files' contents in it.

TFX's fingerprint of a split is its files' count, total size and modification times (to the
second): a file rewritten with the same size and time (`cp -p`, `rsync -t`, a rewrite within
the same second) has the same fingerprint, so TFX served the old examples from its cache. Here
each split's line is followed by the SHA-256 of its files' names and bytes. The driver
(driver.py) records it on the Examples artifact and in the execution's properties (TFX's cache
key); the backfill compares the current one with it to know whether a span was ingested as it is.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from tfx.components.example_gen import utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2, range_config_pb2

_BLOCK = 1 << 20


def fingerprint_span_and_version(
        input_base: str, splits: Iterable[example_gen_pb2.Input.Split],
        range_config: range_config_pb2.RangeConfig | None = None,
        known: Mapping[str, str] = MappingProxyType({})) -> tuple[str, int, int | None]:
    """(fingerprint, span, version) of the span `range_config` selects (else the latest), as
    TFX's `calculate_splits_fingerprint_span_and_version` with each split's contents added.
    `known`: {path: SHA-256 hex} of files the caller has hashed already, not read again."""
    resolved = [copy.deepcopy(split) for split in splits]  # TFX fills in their span and version
    fingerprint, span, version = utils.calculate_splits_fingerprint_span_and_version(
        input_base, resolved, range_config)
    contents = [f"split:{split.name},sha256:{_contents(input_base, split.pattern, known)}"
                for split in resolved]
    return "\n".join([fingerprint, *contents]), span, version


def _contents(input_base: str, pattern: str, known: Mapping[str, str]) -> str:
    """SHA-256 over the files `pattern` matches, in name order: each one's path under
    `input_base` and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    for path in sorted(fileio.glob(os.path.join(input_base, pattern))):
        digest.update(f"{os.path.relpath(path, input_base)}\0"
                      f"{known.get(path) or _file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: str) -> str:
    one = hashlib.sha256()
    with fileio.open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            one.update(block)
    return one.hexdigest()
