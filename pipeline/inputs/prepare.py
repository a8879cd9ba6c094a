"""What a run reads: its spans (the target and its window), their files checked and
fingerprinted. Nothing here starts TensorFlow or Beam.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pipeline.config import Config
from pipeline.inputs import checked_files
from pipeline.inputs import spans as spans_lib
from pipeline.inputs.labels import LabelValues
from pipeline.inputs.preflight import Preflight, check_files
from pipeline.inputs.sources import input_location


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    bytes: int
    rows: int

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows}


@dataclass(frozen=True)
class SpanData:
    span: int
    files: list[DataFile]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def as_dict(self) -> dict[str, object]:
        return {"span": self.span, "files": [f.as_dict() for f in self.files]}


@dataclass(frozen=True)
class InputData:
    """What ExampleGen reads: a base folder, a span pattern under it, and the spans of this run.

    `files` are the window's files (what the model is trained and evaluated on), oldest span
    first; `spans` the same by span; `selection` says which span is processed and which are
    backfilled.
    """

    input_base: str
    pattern: str
    files: list[DataFile]
    spans: list[SpanData] = field(default_factory=list)
    selection: spans_lib.SpanSelection | None = None
    checked: Preflight | None = None  # what the pre-flight found in the window's files

    @property
    def reported(self) -> list[dict[str, str]]:
        """Pre-flight findings that do not halt."""
        return self.checked.reported if self.checked else []

    @property
    def delimiter(self) -> str:
        """What the files are written with (the pre-flight found or checked it)."""
        return self.checked.delimiter if self.checked else ","

    @property
    def label(self) -> LabelValues | None:
        """The label's values over the window."""
        return self.checked.label if self.checked else None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def target(self) -> int:
        return self.selection.target if self.selection else 0

    def span(self, number: int) -> SpanData:
        return next(s for s in self.spans if s.span == number)


def prepare_input(config: Config) -> InputData:
    """Materialises the data if needed, selects the run's spans and checks their files.

    Raises ConfigError (exit 2) when the configured data or span does not exist, and
    pipeline.preflight.DataInputError (exit 4) when a file of the window is unusable.
    """
    input_base, pattern = input_location(config)
    found = spans_lib.discover(input_base, pattern)
    selection = spans_lib.select(list(found), config.spans.span, config.spans.window,
                                 input_base, pattern)
    window = {s: found[s] for s in selection.window}
    digests = {path: checked_files.file_digest(path) for paths in window.values()
               for path in paths}
    checked = check_files(config, window, kept=checked_files.Kept(
        config.output_root / checked_files.FOLDER, digests))
    # A file's rows are the records the pre-flight read (a quoted field may hold line breaks;
    # empty lines are none, as ExampleGen skips them).
    spans = [SpanData(s, [DataFile(path, digests[path], os.path.getsize(path),
                                   checked.records[path]) for path in paths])
             for s, paths in window.items()]
    return InputData(str(input_base), pattern, [f for s in spans for f in s.files], spans,
                     selection, checked)

