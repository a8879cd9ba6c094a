"""Which files DataDrift reads for each dataset it compares, each file once.

The datasets: the span, the previous span, the window's train and eval splits and (for a
multiclass label) the window's earlier spans. SpanWindow's output holds copies of its spans'
files, named `span-<N>-<file>`, and records the ids of the artifacts it copied: a copy of a span
DataDrift reads anyway (the span itself, the previous one) is not read again; its datasets are
added to the original file's part.
"""

from __future__ import annotations

import json
import os

from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.data_drift.params import LabelSpec
from components.data_drift.sliced import Part, parts_of_files
from components.shared.artifacts import span_of

COPIED_IDS = "window_examples_ids"  # SpanWindow's custom property: the artifacts it copied


def _patterns(artifacts: list[types.Artifact], split: str | None = None) -> list[str]:
    """The files of `artifacts`' splits (`<split folder>/*`): of `split`, or of every split."""
    patterns = []
    for artifact in artifacts:
        splits = [split] if split else artifact_utils.decode_split_names(artifact.split_names)
        patterns += [os.path.join(artifact_utils.get_split_uri([artifact], name), "*")
                     for name in splits]
    return patterns


def datasets(examples: types.Artifact, baseline: types.Artifact | None,
             window: list[types.Artifact], label: LabelSpec) -> dict[str, list[str]]:
    """{dataset: file patterns}: the span, the previous span, the window's train and eval
    splits, and (for classes) the window's earlier spans, whose classes the label may use."""
    found = {"span": _patterns([examples])}
    if baseline is not None:
        found["previous_span"] = _patterns([baseline])
    if window:
        found["train"] = _patterns(window, "train")
        found["eval"] = _patterns(window, "eval")
        if label.kind == "multiclass":
            # SpanWindow names each file span-<N>-...: the files of the spans before this one.
            own = f"span-{span_of(examples)}-"
            history = [path for pattern in _patterns(window) for path in fileio.glob(pattern)
                       if os.path.basename(path).startswith("span-")
                       and not os.path.basename(path).startswith(own)]
            if history:
                found["history"] = history
    return found


def file_parts(found: dict[str, list[str]], window: list[types.Artifact],
               read: list[types.Artifact]) -> dict[str, Part]:
    """{file: the datasets it belongs to}, for the `found` datasets ({dataset: patterns}); a
    window file copied from an artifact of `read` (by id) is replaced by its original when that
    is read anyway and has the same size."""
    patterns: dict[str, Part] = {}
    for name, dataset_patterns in found.items():
        for pattern in dataset_patterns:
            patterns[pattern] = (*patterns.get(pattern, ()), name)
    by_file = parts_of_files(patterns)
    for copy, original in _copies(window, read).items():
        if copy in by_file and original in by_file and (
                fileio.stat(copy).length == fileio.stat(original).length):
            by_file[original] = tuple(sorted({*by_file[original], *by_file.pop(copy)}))
    return by_file


def _copies(window: list[types.Artifact], read: list[types.Artifact]) -> dict[str, str]:
    """{window file: the file of an artifact of `read` it is a copy of}."""
    copies = {}
    for copied in window:
        if not copied.has_custom_property(COPIED_IDS):
            continue
        ids = set(json.loads(copied.get_string_custom_property(COPIED_IDS)))
        for source in (a for a in read if a.id and a.id in ids):
            prefix = f"span-{span_of(source)}-"
            splits = set(artifact_utils.decode_split_names(source.split_names))
            for split in artifact_utils.decode_split_names(copied.split_names):
                if split not in splits:
                    continue
                folder = artifact_utils.get_split_uri([copied], split)
                original = artifact_utils.get_split_uri([source], split)
                for path in fileio.glob(os.path.join(folder, prefix + "*")):
                    copies[path] = os.path.join(original, os.path.basename(path)[len(prefix):])
    return copies
