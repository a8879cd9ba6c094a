"""Spans: which folders of the data a run reads, found the way TFX's ExampleGen finds them.

A span is one ExampleGen execution's worth of data (TFX's unit of data versioning). Files are
matched by the config's `data.pattern` under the input folder, e.g. `span-{SPAN}/*.csv`; the
integer matched by `{SPAN}` is the span number. A pattern without `{SPAN}` makes all its files
span 0, the single-span layout of a plain CSV file or folder.

A run processes one *target* span (the newest, or `--span N`) and trains on a *window*: the
spans from target - window + 1 to target that exist. This module is pure Python: it lists and
selects, it never reads data.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import ConfigError

SPAN_SPEC = re.compile(r"\{SPAN(?::(\d+))?\}")
UNSUPPORTED_SPECS = ("{VERSION", "{YYYY}", "{MM}", "{DD}")


@dataclass(frozen=True)
class SpanSelection:
    """The span a run processes and the spans it trains on (ascending, target last)."""

    target: int
    window: list[int]
    available: list[int]

    @property
    def backfill(self) -> list[int]:
        """Window spans other than the target: ingested (if not yet) before the run."""
        return [s for s in self.window if s != self.target]

    @property
    def previous(self) -> int | None:
        """The newest available span before the target: what drift is measured against."""
        older = [s for s in self.available if s < self.target]
        return older[-1] if older else None


def has_span_spec(pattern: str) -> bool:
    return bool(SPAN_SPEC.search(pattern))


def check_pattern(pattern: str) -> None:
    """One `{SPAN}` at most; the date and version specs are not supported by this pipeline."""
    for spec in UNSUPPORTED_SPECS:
        if spec in pattern:
            raise ConfigError(
                f"'data.pattern' = '{pattern}': {spec.strip('{')} specs are not supported here; "
                "name span folders with an integer, e.g. 'span-{SPAN}/*.csv'")
    if len(SPAN_SPEC.findall(pattern)) > 1:
        raise ConfigError(f"'data.pattern' = '{pattern}' has more than one {{SPAN}}")


def _glob_and_regex(pattern: str) -> tuple[str, re.Pattern[str]]:
    """What ExampleGen does: {SPAN} is '*' for globbing and a captured integer for matching."""
    match = SPAN_SPEC.search(pattern)
    if not match:
        return pattern, re.compile(re.escape(pattern))
    width = match.group(1)
    digits = rf"(?P<span>\d{{{width}}})" if width else r"(?P<span>\d+)"
    before, after = pattern[: match.start()], pattern[match.end():]
    glob_pattern = before + "*" + after
    regex = _glob_regex(before) + digits + _glob_regex(after)
    return glob_pattern, re.compile(regex)


def _glob_regex(part: str) -> str:
    """A glob fragment as a regex: '*' and '?' never cross a folder separator."""
    return "".join("[^/]*" if piece == "*" else "[^/]" if piece == "?" else re.escape(piece)
                   for piece in re.split(r"(\*|\?)", part))


def discover(input_base: str | os.PathLike[str], pattern: str) -> dict[int, list[str]]:
    """{span: sorted file paths} of every file matching the pattern under input_base."""
    check_pattern(pattern)
    base = str(input_base)
    glob_pattern, regex = _glob_and_regex(pattern)
    spans: dict[int, list[str]] = {}
    for path in sorted(glob.glob(os.path.join(base, glob_pattern))):
        if not os.path.isfile(path):
            continue
        relative = os.path.relpath(path, base)
        if has_span_spec(pattern):
            match = regex.fullmatch(relative)
            if not match:
                continue
            span = int(match.group("span"))
        else:
            span = 0
        spans.setdefault(span, []).append(path)
    return spans


def span_folders(input_base: str | os.PathLike[str], pattern: str) -> dict[int, str]:
    """{span: folder} of the span folders that exist, even empty ones (for precise errors)."""
    if not has_span_spec(pattern):
        return {}
    folder_pattern = pattern.split("/")[0]
    if not SPAN_SPEC.search(folder_pattern):
        return {}
    glob_pattern, regex = _glob_and_regex(folder_pattern)
    found = {}
    for path in glob.glob(os.path.join(str(input_base), glob_pattern)):
        match = regex.fullmatch(os.path.basename(path))
        if match and os.path.isdir(path):
            found[int(match.group("span"))] = path
    return found


def span_path(pattern: str, span: int) -> str:
    """The pattern with `{SPAN}` filled in (zero-padded to its width when it has one)."""
    match = SPAN_SPEC.search(pattern)
    if not match:
        return pattern
    value = str(span).zfill(int(match.group(1))) if match.group(1) else str(span)
    return pattern[: match.start()] + value + pattern[match.end():]


def select(available: list[int], span: int, window: int, input_base: str | os.PathLike[str],
           pattern: str) -> SpanSelection:
    """The target span (0 = the newest) and the window of spans ending at it.

    Raises ConfigError (bad usage: exit 2) when the asked span does not exist.
    """
    if window < 1:
        raise ConfigError(f"the window must be at least 1 span, got {window}")
    available = sorted(available)
    if not available:
        raise ConfigError(f"no data files match {Path(input_base) / pattern} "
                          "(check 'data.source', 'data.dir' and 'data.pattern')")
    if span and not has_span_spec(pattern):
        raise ConfigError(f"--span {span}: 'data.pattern' = '{pattern}' has no {{SPAN}}, "
                          "so the data is a single span (0)")
    target = span or available[-1]
    if target not in available:
        folder = Path(input_base) / os.path.dirname(span_path(pattern, target))
        missing = f" (there is no folder {folder})" if not folder.is_dir() else ""
        raise ConfigError(f"span {target} does not exist: no files match "
                          f"{Path(input_base) / span_path(pattern, target)}{missing}; "
                          f"spans available: {format_ranges(available)}")
    first = target - window + 1
    return SpanSelection(target=target, window=[s for s in available if first <= s <= target],
                         available=available)


def format_ranges(values: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts: list[str] = []
    start = prev = None
    for value in values:
        if start is None:
            start = prev = value
        elif value == prev + 1:
            prev = value
        else:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = value
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(parts)
