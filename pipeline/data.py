"""Where the pipeline's input data comes from, which spans a run reads, and their fingerprints.

The default dataset is the Chicago taxi sample that ships inside the installed tfx wheel. It is
found through the package and materialised at run time (never committed) as monthly spans, by
each trip's `trip_start_timestamp`: `span-1/2013-01.csv` ... `span-48/2016-12.csv`, so that the
order of spans is the order of time. A file is rewritten only when its content differs, because
ExampleGen's input fingerprint includes file modification times: rewriting identical data would
defeat caching.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import spans as spans_lib
from pipeline.config import TFX_TAXI_SOURCE, Config, ConfigError

TAXI_CSV_IN_TFX = ("examples", "chicago_taxi_pipeline", "data", "simple", "data.csv")
# Span 1 is the first month of the taxi sample; span numbers count calendar months from it.
TAXI_FIRST_MONTH = (2013, 1)
TAXI_TIME_COLUMN = "trip_start_timestamp"
TAXI_PATTERN = "span-{SPAN}/*.csv"


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
    reported: list[dict[str, str]] = field(default_factory=list)  # pre-flight findings, no halt

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def target(self) -> int:
        return self.selection.target if self.selection else 0

    def span(self, number: int) -> SpanData:
        return next(s for s in self.spans if s.span == number)


def tfx_taxi_csv() -> Path:
    """The taxi CSV inside the installed tfx package."""
    import tfx

    path = Path(tfx.__file__).parent.joinpath(*TAXI_CSV_IN_TFX)
    if not path.is_file():
        raise ConfigError(f"the installed tfx package has no taxi data at {path}; "
                          "reinstall the environment with 'make distclean run'")
    return path


def _write_if_changed(lines: list[str], dest: Path) -> None:
    content = "".join(lines).encode("utf-8")
    if dest.is_file() and dest.read_bytes() == content:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".csv")
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, dest)


def month_span(timestamp: int, first: tuple[int, int] = TAXI_FIRST_MONTH) -> tuple[int, str]:
    """(span number, 'YYYY-MM') of a UTC unix timestamp; span 1 is the month `first`."""
    when = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    span = (when.year - first[0]) * 12 + when.month - first[1] + 1
    return span, f"{when.year:04d}-{when.month:02d}"


def materialize_taxi(dest_dir: Path, sample_rows: int = 0) -> dict[int, Path]:
    """Writes the packaged taxi CSV as monthly spans: `span-N/YYYY-MM.csv`, header in each.

    Rows keep their original text and order within a month. With `sample_rows`, only the first
    rows of the packaged file are used (they are spread over all months). Span folders left over
    from a different sample are emptied, so they cannot be read as current data.
    """
    with open(tfx_taxi_csv(), encoding="utf-8") as handle:
        lines = handle.readlines()
    header, rows = lines[0], lines[1:]
    if sample_rows > 0:
        rows = rows[:sample_rows]
    column = next(csv.reader([header])).index(TAXI_TIME_COLUMN)
    months: dict[int, tuple[str, list[str]]] = {}
    for line in rows:
        span, name = month_span(int(next(csv.reader([line]))[column]))
        months.setdefault(span, (name, []))[1].append(line)
    written = {}
    for span, (name, month_rows) in sorted(months.items()):
        dest = dest_dir / f"span-{span}" / f"{name}.csv"
        _write_if_changed([header, *month_rows], dest)
        written[span] = dest
    for span, folder in spans_lib.span_folders(dest_dir, TAXI_PATTERN).items():
        for stale in Path(folder).glob("*.csv"):
            if written.get(span) != stale:
                stale.unlink()
    return written


def sample_csv(source: Path, dest: Path, rows: int) -> Path:
    """Writes the header and first `rows` rows of `source` to `dest` (for quick runs on samples)."""
    with open(source, encoding="utf-8", errors="strict") as handle:
        lines = [line for _, line in zip(range(rows + 1), handle, strict=False)]
    _write_if_changed(lines, dest)
    return dest


def fingerprint(path: str | os.PathLike[str]) -> DataFile:
    digest = hashlib.sha256()
    rows = -1  # the header is not a row
    size = 0
    with open(path, "rb") as handle:
        for line in handle:
            digest.update(line)
            size += len(line)
            rows += 1
    return DataFile(path=str(path), sha256=digest.hexdigest(), bytes=size, rows=max(rows, 0))


def input_location(config: Config) -> tuple[Path, str]:
    """(input base folder, span pattern) that ExampleGen reads, materialising data if needed."""
    if config.data.source == TFX_TAXI_SOURCE:
        materialize_taxi(config.data_dir, config.data.sample_rows)
        return config.data_dir, TAXI_PATTERN
    if os.path.isfile(config.data.source):
        source = Path(config.data.source)
        if config.data.sample_rows > 0:
            source = sample_csv(source, config.data_dir / source.name, config.data.sample_rows)
        return source.parent, source.name
    return Path(config.data.source), config.data.pattern


def prepare_input(config: Config) -> InputData:
    """Materialises the data if needed, selects the run's spans and checks their files.

    Raises ConfigError (exit 2) when the configured data or span does not exist, and
    pipeline.preflight.DataInputError (exit 4) when a file of the window is unusable.
    """
    from pipeline.preflight import check_files

    input_base, pattern = input_location(config)
    found = spans_lib.discover(input_base, pattern)
    selection = spans_lib.select(list(found), config.spans.span, config.spans.window,
                                 input_base, pattern)
    reported = check_files(config, {s: found[s] for s in selection.window})
    spans = [SpanData(s, [fingerprint(p) for p in found[s]]) for s in selection.window]
    return InputData(str(input_base), pattern, [f for s in spans for f in s.files], spans,
                     selection, reported)

