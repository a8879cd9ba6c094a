"""Where the pipeline's input data comes from, and its content fingerprints.

The default dataset is the Chicago taxi sample that ships inside the installed tfx wheel. It is
found through the package and copied into the configured data folder at run time, never committed.
A copy is rewritten only when its content differs, because ExampleGen's input fingerprint includes
file modification times: rewriting identical data would defeat caching.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import TFX_TAXI_SOURCE, Config, ConfigError, check_columns, read_header

TAXI_CSV_IN_TFX = ("examples", "chicago_taxi_pipeline", "data", "simple", "data.csv")


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    bytes: int
    rows: int

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows}


@dataclass(frozen=True)
class InputData:
    """What ExampleGen reads: a base folder, a file pattern under it, and the files it matches."""

    input_base: str
    pattern: str
    files: list[DataFile]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


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


def materialize_taxi(dest_dir: Path, sample_rows: int = 0) -> Path:
    """Copies the packaged taxi CSV (optionally its first `sample_rows` rows) into dest_dir."""
    with open(tfx_taxi_csv(), encoding="utf-8") as handle:
        lines = handle.readlines()
    if sample_rows > 0:
        lines = lines[: sample_rows + 1]
    dest = dest_dir / "data.csv"
    _write_if_changed(lines, dest)
    return dest


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


def prepare_input(config: Config) -> InputData:
    """Materialises the configured data if needed and checks its header against the config."""
    if config.data.source == TFX_TAXI_SOURCE:
        materialize_taxi(config.data_dir, config.data.sample_rows)
        input_base, pattern = config.data_dir, "*.csv"
    elif os.path.isfile(config.data.source):
        source = Path(config.data.source)
        if config.data.sample_rows > 0:
            source = sample_csv(source, config.data_dir / source.name, config.data.sample_rows)
        input_base, pattern = source.parent, source.name
    else:
        input_base, pattern = Path(config.data.source), config.data.pattern
    files = sorted(glob.glob(str(input_base / pattern)))
    if not files:
        raise ConfigError(f"no data files match {input_base / pattern} "
                          "(check 'data.source' and 'data.pattern')")
    for path in files:
        try:
            header = read_header(Path(path))
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; re-encode the file as UTF-8") from None
        if not header:
            raise ConfigError(f"{path}: the file is empty; it needs a header row and data rows")
        check_columns(config, header, where=os.path.basename(path))
    data = InputData(str(input_base), pattern, [fingerprint(p) for p in files])
    if data.rows == 0:
        raise ConfigError(f"{files[0]}: has a header but no data rows")
    return data

