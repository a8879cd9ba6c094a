"""The pre-flight's findings on each file, kept by what they depend on: the file's bytes, its
path and span, the rules it was read with and the code that read it. A rerun on unchanged data
reads each file's findings back instead of every row again (the row-by-row pass is pure Python:
seconds at 150k rows, half a minute at 1.5M).

A finding kept here is a JSON file named by that key under the output root; one that cannot be
read is read again from the CSV, and one that cannot be written is only not kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import astuple, dataclass, field
from pathlib import Path

from components.shared.files import write_atomically
from pipeline.inputs import csv_files, labels
from pipeline.inputs.csv_files import CsvRules, FileCheck, read_csv
from pipeline.inputs.labels import LabelValues

FOLDER = ".preflight-cache"  # in the output root
_CODE = hashlib.sha256(b"".join(Path(m.__file__).read_bytes()
                                for m in (csv_files, labels))).hexdigest()


@dataclass(frozen=True)
class Kept:
    """Where the findings are kept, and the SHA-256 of each file's bytes that the caller already
    computed ({path: hex}; prepare.py hashes every file of the window), so no file is hashed
    twice."""

    folder: Path
    digests: dict[str, str] = field(default_factory=dict)


def read_checked(path: str, span: int, rules: CsvRules, kept: Kept | None) -> FileCheck:
    """`read_csv(path, span, rules)`, from `kept` when it holds this file's findings."""
    if kept is None:
        return read_csv(path, span, rules)
    digest = kept.digests.get(path) or file_digest(path)
    stored = kept.folder / f"{_key(path, span, rules, digest)}.json"
    try:
        return _decoded(json.loads(stored.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    checked = read_csv(path, span, rules)
    try:
        write_atomically(stored, json.dumps(_encoded(checked)))
    except OSError:
        pass  # a full disk or a read-only root: the findings are only not kept
    return checked


def file_digest(path: str) -> str:
    """The SHA-256 of the file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _key(path: str, span: int, rules: CsvRules, file_digest: str) -> str:
    described = [_CODE, file_digest, str(path), span, rules.delimiter, sorted(rules.missing),
                 sorted((k, list(v)) for k, v in rules.numeric.items()),
                 astuple(rules.label) if rules.label else None, sorted(rules.codes)]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:32]


def _encoded(checked: FileCheck) -> dict:
    label = checked.label
    return {"header": checked.header, "delimiter": checked.delimiter,
            "problems": checked.problems, "records": checked.records,
            "label": None if label is None else {
                "kind": label.kind, "classes": dict(label.classes), "count": label.count,
                "mean": label.mean, "squares": label.squares}}


def _decoded(kept: dict) -> FileCheck:
    label = kept["label"]
    values = None if label is None else LabelValues(
        label["kind"], Counter(label["classes"]), label["count"], label["mean"], label["squares"])
    return FileCheck(kept["header"], kept["delimiter"], kept["problems"], values,
                     kept["records"])
