"""Pre-flight checks: CSV files that TFX could not read, or would read wrongly, stop a run early.

Pure Python, before TensorFlow or Beam start, over every file of the run's spans:
- bytes that are not UTF-8, an empty file, a header with no data rows;
- malformed CSV: an unterminated or stray quote, a record with more or fewer fields than the
  header, a quoted field spanning lines (CsvExampleGen reads one record per line), duplicate
  column names, files of one span whose headers differ (ExampleGen takes the first file's);
- columns: a column the pipeline needs (label, its derive denominator, features, slice
  columns) or the curated schema requires is missing; a column the schema does not know.

Statistical problems (types, missing values, domains, ranges, drift) are for the TFDV gates in
the pipeline. Each finding is a row of the same anomaly table the gates produce.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from pathlib import Path

from pipeline.config import Config, ConfigError

INPUT_SPLIT = "-"  # pre-flight rows are about files, before ExampleGen splits them


class DataInputError(ConfigError):
    """Bad input data found before the pipeline starts: the run halts with exit 4 (data).

    A ConfigError too, so anything that reports configuration problems in one line reports this
    one; the CLI tells them apart for the exit code. `rows` is the anomaly table.
    """

    def __init__(self, rows: list[dict[str, str]]):
        self.rows = rows
        first = rows[0]
        more = f" (and {len(rows) - 1} more problem(s))" if len(rows) > 1 else ""
        super().__init__(f"{first['file']}: {first['description']}{more}")


def _row(path: str, span: int, feature: str, kind: str, short: str, description: str,
         observed: str = "-", threshold: str = "-", halts: bool = True) -> dict[str, str]:
    return {"split": INPUT_SPLIT, "span": span, "file": path, "feature": feature, "kind": kind,
            "short": short, "description": description, "observed": observed,
            "threshold": threshold, "severity": "halt" if halts else "report"}


def load_schema(path: str):
    """The curated schema (a tensorflow_metadata Schema proto), or None without one."""
    if not path:
        return None
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    text_format.Parse(Path(path).read_text(encoding="utf-8"), schema)
    return schema


def required_by_schema(schema) -> set[str]:
    """Columns the schema requires in training data: presence asked and not excluded there."""
    required = set()
    for feature in schema.feature:
        envs_in = set(feature.in_environment)
        if "TRAINING" in feature.not_in_environment or (envs_in and "TRAINING" not in envs_in):
            continue
        if feature.presence.min_count > 0 or feature.presence.min_fraction > 0:
            required.add(feature.name)
    return required


def needed_by_config(config: Config) -> dict[str, str]:
    """{column: role} of every column the pipeline itself reads."""
    needed = {
        **{f: "feature" for f in config.all_features},
        config.label.column: "label column",
        **{c: "slice column" for s in config.evaluation.slices for c in s},
    }
    if config.label.derive is not None:
        needed.setdefault(config.label.derive.denominator, "label denominator")
    return needed


def check_files(config: Config, files_by_span: dict[int, list[str]]) -> list[dict[str, str]]:
    """Checks every file; raises DataInputError listing what halts, returns what is reported.

    Without a curated schema a needed column missing from the data is a configuration mistake
    (ConfigError, exit 2, with a "did you mean"); with one, the schema is the data's contract
    and a missing column is a data problem (exit 4).
    """
    schema = load_schema(config.schema.path)
    rows: list[dict[str, str]] = []
    for span, paths in sorted(files_by_span.items()):
        first_header: list[str] | None = None
        for path in paths:
            header, problems = read_csv(path, span)
            rows += problems
            if header is None:
                continue
            if first_header is None:
                first_header = header
                rows += check_header(config, schema, header, path, span)
            elif header != first_header:
                rows.append(_row(path, span, "(header)", "MALFORMED_CSV", "Header differs",
                                 f"the header differs from that of {os.path.basename(paths[0])} "
                                 "in the same span; ExampleGen reads every file of a span with "
                                 "the first file's columns", observed=_short(header),
                                 threshold=_short(first_header)))
    halting = [r for r in rows if r["severity"] == "halt"]
    if halting:
        raise DataInputError(halting + [r for r in rows if r["severity"] != "halt"])
    return rows


def _short(header: list[str]) -> str:
    text = ",".join(header)
    return text if len(text) <= 60 else text[:57] + "..."


def read_csv(path: str, span: int = 0) -> tuple[list[str] | None, list[dict[str, str]]]:
    """(header, problems) of one file: encoding, emptiness, quoting and field counts."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start: error.start + 1].hex()
        return None, [_row(path, span, "(file)", "NOT_UTF8", "Not UTF-8 text",
                           f"line {line} has bytes that are not UTF-8 (0x{byte} at byte "
                           f"{error.start}); re-encode the file as UTF-8",
                           observed=f"0x{byte} at line {line}", threshold="UTF-8")]
    if not text.strip():
        return None, [_row(path, span, "(file)", "EMPTY_FILE", "Empty file",
                           "the file is empty; it needs a header row and data rows",
                           observed="0 rows", threshold="a header and >= 1 row")]
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte order mark is harmless to us but not a column name
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[dict[str, str]] = []
    header: list[str] | None = None
    records = 0
    line = 0
    try:
        for record in reader:
            start, line = line + 1, reader.line_num
            if header is None:
                header = record
                problems += _header_problems(path, span, header)
                continue
            if not record or record == [""]:
                continue  # a blank line
            records += 1
            if line != start:
                problems.append(_row(path, span, "(row)", "MALFORMED_CSV", "Multi-line record",
                                     f"lines {start}-{line} are one record: a quoted field "
                                     "holds a line break (or a quote is not closed); "
                                     "CsvExampleGen reads one record per line",
                                     observed=f"{line - start + 1} lines", threshold="1 line"))
                break
            if len(record) != len(header):
                problems.append(_row(path, span, "(row)", "MALFORMED_CSV", "Wrong field count",
                                     f"line {line} has {len(record)} fields, the header has "
                                     f"{len(header)}; check quoting and delimiters there",
                                     observed=f"{len(record)} fields",
                                     threshold=f"{len(header)} fields"))
                break
    except csv.Error as error:
        at = line + 1  # the record that failed starts after the last good one
        problems.append(_row(path, span, "(row)", "MALFORMED_CSV", "Malformed quoting",
                             f"the record at line {at} is not valid CSV ({error}): a quote is "
                             "not closed, or text follows a closing quote",
                             observed=f"line {at}", threshold="balanced quotes"))
    if header is not None and records == 0 and not problems:
        problems.append(_row(path, span, "(file)", "NO_DATA_ROWS", "Header only",
                             "has a header but no data rows", observed="0 rows",
                             threshold=">= 1 row"))
    return header, problems


def _header_problems(path: str, span: int, header: list[str]) -> list[dict[str, str]]:
    seen: set[str] = set()
    problems = []
    for name in header:
        if name in seen:
            problems.append(_row(path, span, name, "MALFORMED_CSV", "Duplicate column",
                                 f"column '{name}' appears twice in the header",
                                 observed="2 columns", threshold="unique names"))
        seen.add(name)
    if any(not name.strip() for name in header):
        problems.append(_row(path, span, "(header)", "MALFORMED_CSV", "Unnamed column",
                             "the header has an empty column name", observed="''",
                             threshold="every column named"))
    return problems


def check_header(config: Config, schema, header: list[str], path: str, span: int
                 ) -> list[dict[str, str]]:
    """Missing columns (needed by the pipeline or required by the schema) and unknown ones."""
    columns = set(header)
    needed = needed_by_config(config)
    if schema is None:
        for column, role in needed.items():
            if column not in columns:
                hint = difflib.get_close_matches(column, header, n=1)
                tip = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise ConfigError(f"{os.path.basename(path)}: {role} '{column}' is not a column "
                                  f"of the data{tip}")
        return []
    known = {f.name for f in schema.feature}
    rows = []
    for column, role in needed.items():
        if column not in known and column not in columns:
            hint = difflib.get_close_matches(column, sorted(known | columns), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ConfigError(f"{role} '{column}' is neither a column of the data "
                              f"({os.path.basename(path)}) nor of the schema{tip}")
    missing = {c: needed.get(c, "column required by the schema")
               for c in sorted(set(needed) | required_by_schema(schema)) if c not in columns}
    for column, role in missing.items():
        rows.append(_row(path, span, column, "SCHEMA_MISSING_COLUMN", "Column missing",
                         f"the {role} '{column}' is not in the header",
                         observed="absent", threshold="present"))
    halts = config.validation.new_columns == "halt"
    for column in header:
        if column not in known and column.strip():
            rows.append(_row(path, span, column, "SCHEMA_NEW_COLUMN", "New column",
                             f"column '{column}' is not in the curated schema "
                             f"({'halts' if halts else 'reported only'}: "
                             "validation.new_columns); review it with 'tfxpipe schema'",
                             observed="present", threshold="not in schema", halts=halts))
    return rows
