"""Where the pipeline's input data comes from: a CSV file, a folder of span folders, or the
Chicago taxi sample that ships inside the installed tfx wheel.

The taxi sample is found through the package and materialised at run time (never committed) as
monthly spans, by each trip's `trip_start_timestamp`: `span-1/2013-01.csv` ...
`span-48/2016-12.csv`, so that the order of spans is the order of time. A file is rewritten only
when its content differs, because ExampleGen's input fingerprint includes file modification
times: rewriting identical data would defeat caching.
"""

from __future__ import annotations

import csv
import datetime
import os
import tempfile
from pathlib import Path

from pipeline.config import Config, ConfigError
from pipeline.config.sections import TFX_TAXI_SOURCE
from pipeline.inputs import spans as spans_lib

TAXI_CSV_IN_TFX = ("examples", "chicago_taxi_pipeline", "data", "simple", "data.csv")
# Span 1 is the first month of the taxi sample; span numbers count calendar months from it.
TAXI_FIRST_MONTH = (2013, 1)
TAXI_TIME_COLUMN = "trip_start_timestamp"
TAXI_PATTERN = "span-{SPAN}/*.csv"


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
    """Writes the header and first `rows` rows of `source` to `dest` (for quick runs on samples);
    never onto `source` itself."""
    if dest.resolve() == source.resolve():
        raise ValueError(f"a sample of {source} would overwrite it")
    with open(source, encoding="utf-8", errors="strict") as handle:
        lines = [line for _, line in zip(range(rows + 1), handle, strict=False)]
    _write_if_changed(lines, dest)
    return dest


def input_location(config: Config) -> tuple[Path, str]:
    """(input base folder, span pattern) that ExampleGen reads, materialising data if needed."""
    if config.data.source == TFX_TAXI_SOURCE:
        # A sample is written under the output root: the data folder is shared by every output
        # root, and a sample written there cut the spans of a run reading them.
        rows = config.data.sample_rows
        folder = (config.pipeline_dir / "samples" / f"taxi-first-{rows}") if rows > 0 \
            else config.data_dir
        materialize_taxi(folder, rows)
        return folder, TAXI_PATTERN
    if os.path.isfile(config.data.source):
        source = Path(config.data.source)
        if config.data.sample_rows > 0:  # a copy under the output root: the user's file stays
            rows = config.data.sample_rows
            source = sample_csv(source, config.pipeline_dir / "samples" / f"first-{rows}"
                                / source.name, rows)
        return source.parent, source.name
    return Path(config.data.source), config.data.pattern


