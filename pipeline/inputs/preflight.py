"""Pre-flight checks: CSV files that TFX could not read, or would read wrongly, stop a run early.

Pure Python, before TensorFlow or Beam start, over every file of the run's spans
(`csv_files.py` reads one file):
- bytes that are not UTF-8, an empty file, a header with no data rows;
- the delimiter: the one the header is written with (`[data] delimiter = "auto"`), the same in
  every file; a file written with another delimiter than the configured one;
- malformed CSV: an unterminated or stray quote, a record with more or fewer fields than the
  header (a quote left open makes one record of many lines: a quoted field may hold line
  breaks), the header repeated inside a file, duplicate column names, files of one span whose
  headers differ;
- values: a column that must hold numbers (a numeric feature, a regression label, a derived
  label's inputs, a column the curated schema types INT or FLOAT) holds text that is not one of
  the missing values (`[data] missing_values`), or an infinite number;
- the label: missing in a row (unless derived), a binary label's text read as neither class
  (`labels.py`), one value only over the window;
- columns: a column the pipeline needs (label, its derive denominator, features, slice
  columns) or the curated schema requires is missing; a column the schema does not know.

Statistical problems (types, missing values, domains, ranges, drift) are for the TFDV gates in
the pipeline. Each finding is a row of the same anomaly table the gates produce.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Config, ConfigError
from pipeline.inputs.checked_files import Kept, read_checked
from pipeline.inputs.csv_files import HALT, CsvRules, FileRef
from pipeline.inputs.labels import LabelRule, LabelValues
from pipeline.modules.labels import rule_text

_NUMERIC_TYPES = {"INT": "int", "FLOAT": "float"}


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


@dataclass(frozen=True)
class Preflight:
    """What the checks found that does not halt, the delimiter the files are written with, the
    label's values over every file, and each file's records (a quoted field may hold line
    breaks: records, not lines)."""

    reported: list[dict[str, str]]
    delimiter: str
    label: LabelValues
    records: dict[str, int] = field(default_factory=dict)  # path -> data records read


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


def numeric_columns(config: Config, schema) -> dict[str, tuple[str, str]]:
    """{column: (int or float, its role)} of the columns whose values must be numbers."""
    columns = {name: ("float", "numeric feature") for name in config.features.numeric}
    if config.label.kind == "regression":
        columns[config.label.column] = ("float", "regression label")
    if config.label.derive is not None:
        columns[config.label.column] = ("float", "input of the derived label")
        columns[config.label.derive.denominator] = ("float", "input of the derived label")
    if schema is not None:
        from tensorflow_metadata.proto.v0 import schema_pb2

        for feature in schema.feature:
            kind = _NUMERIC_TYPES.get(schema_pb2.FeatureType.Name(feature.type))
            if kind and feature.name in config.data.text_columns:
                raise ConfigError(
                    f"'data.text_columns' names '{feature.name}', which the curated schema "
                    f"{config.schema.path} types {kind.upper()}: set its type to BYTES there "
                    "(and its domain), or take it out of text_columns")
            if kind:
                columns[feature.name] = (kind, f"{kind.upper()} in the curated schema")
    return columns


def check_served_types(config: Config, schema) -> None:
    """ConfigError when this run reads a column with another type than the served model (the
    newest version) was trained on, where the run's type is known before it reads the data:
    [data] text_columns (BYTES) and the curated schema `schema`. That model could not read the
    run's data, and the comparison against it would fail in the Evaluator."""
    from components.versioned_pusher.versions import SCHEMA_FILE, existing_versions

    versions = existing_versions(str(config.model_dir))
    path = config.model_dir / str(versions[-1]) / SCHEMA_FILE if versions else None
    if path is None or not path.is_file():
        return
    from tensorflow_metadata.proto.v0 import schema_pb2

    def name(feature) -> str:
        return schema_pb2.FeatureType.Name(feature.type)

    wanted = {f.name: (name(f), f"the curated schema {config.schema.path}")
              for f in (schema.feature if schema is not None else [])}
    wanted.update({column: ("BYTES", "'data.text_columns'")
                   for column in config.data.text_columns})
    for feature in load_schema(str(path)).feature:
        now, source = wanted.get(feature.name, (name(feature), ""))
        if now != name(feature) and "TYPE_UNKNOWN" not in (now, name(feature)):
            raise ConfigError(
                f"{source} reads '{feature.name}' as {now}, but the served model (version "
                f"{versions[-1]}) was trained on it as {name(feature)} and cannot read that, so "
                "the new model cannot be compared with it: keep the column's type, or start a "
                "new pipeline for the new type (another [pipeline] name)")


def csv_rules(config: Config, schema) -> CsvRules:
    numeric = numeric_columns(config, schema)
    codes = set(config.features.categorical) - set(config.data.text_columns) - set(numeric)
    return CsvRules(delimiter=config.data.delimiter,
                    missing=frozenset(v.strip().lower() for v in config.data.missing_values),
                    numeric=numeric, label=label_rule(config), codes=frozenset(codes))


def label_rule(config: Config) -> LabelRule:
    """How the pre-flight reads the config's label column."""
    positive = config.label.positive_values
    return LabelRule(config.label.column, config.label.kind,
                     None if positive is None else tuple(str(v) for v in positive),
                     config.label.derive is not None)


def check_files(config: Config, files_by_span: dict[int, list[str]], contract: bool = True,
                kept: Kept | None = None) -> Preflight:
    """Checks every file; raises DataInputError listing what halts, returns what is reported.

    Without a curated schema a needed column missing from the data is a configuration mistake
    (ConfigError, exit 2, with a "did you mean"); with one, the schema is the data's contract
    and a missing column is a data problem (exit 4). `contract=False` checks only that the files
    can be read (for 'tfxpipe schema', whose purpose is to show how the header differs).
    `kept`: where findings of earlier runs are kept (checked_files.py), or None.
    """
    schema = load_schema(config.schema.path)
    if contract:
        check_served_types(config, schema)
    rules = csv_rules(config, schema)
    rows: list[dict[str, str]] = []
    records: dict[str, int] = {}
    delimiters: dict[str, str] = {}
    label = LabelValues(config.label.kind)
    for span, paths in sorted(files_by_span.items()):
        first_header: list[str] | None = None
        for path in paths:
            checked = read_checked(path, span, rules, kept)
            records[path] = checked.records
            rows += checked.problems
            if checked.label is not None:
                label.merge(checked.label)
            if checked.header is None:
                continue
            delimiters[path] = checked.delimiter
            ref = FileRef(path, span)
            if first_header is None:
                first_header = checked.header
                rows += check_header(config, schema, checked.header, ref) if contract else []
            elif checked.header != first_header:
                rows.append(ref.row("(header)", "MALFORMED_CSV", (
                    "Header differs", f"the header differs from that of "
                    f"{os.path.basename(paths[0])} in the same span; ExampleGen reads every file "
                    "of a span with the first file's columns"),
                    (_short(checked.header), _short(first_header))))
    rows += _mixed_delimiters(delimiters, files_by_span)
    if not any(r["kind"] == "NOT_BINARY" for r in rows):
        rows += _one_class(config, label, files_by_span)
    halting = [r for r in rows if r["severity"] == HALT]
    if halting:
        raise DataInputError(halting + [r for r in rows if r["severity"] != HALT])
    delimiter = next(iter(delimiters.values()), ",")
    return Preflight(rows, delimiter, label, records)


def _mixed_delimiters(delimiters: dict[str, str], files_by_span: dict[int, list[str]]
                      ) -> list[dict[str, str]]:
    """One row when the files of the window are not all written with the same delimiter."""
    found = sorted(set(delimiters.values()))
    if len(found) < 2:
        return []
    first = next(iter(delimiters.values()))
    path = next(p for p, d in delimiters.items() if d != first)
    span = next(s for s, paths in files_by_span.items() if path in paths)
    return [FileRef(path, span).row("(header)", "MIXED_DELIMITERS", (
        "Another delimiter", f"this file is written with {delimiters[path]!r}, earlier files "
        f"with {first!r}: every file of the window must use one delimiter"),
        (repr(delimiters[path]), repr(first)))]


def _one_class(config: Config, label: LabelValues, files_by_span: dict[int, list[str]]
               ) -> list[dict[str, str]]:
    """One row when the label has one value in every row of the window that has one (two rows
    at least; fewer are the empty-split gate's): no model can learn from it."""
    only = label.only_value()
    if only is None:
        return []
    value, rows = only
    spans = sorted(files_by_span)
    paths = [path for span in spans for path in files_by_span[span]]
    where = paths[0] if len(paths) == 1 else (
        f"the {len(paths)} files of span(s) {spans[0]}-{spans[-1]}" if len(spans) > 1
        else f"the {len(paths)} files of span {spans[0]}")
    column, kind = config.label.column, config.label.kind
    if kind == "binary":
        rule = rule_text({"column": column, "kind": kind,
                          "positive_values": config.label.positive_values})
        what, fix = f"binary label '{column}' ({rule})", (
            "check [label] positive_values (written as in the data) or the label column")
    else:
        what, fix = f"{kind} label '{column}'", "check the label column and the span window"
    return [FileRef(where, spans[-1]).row(column, "ONE_LABEL_CLASS", (
        "One label value", f"{what} is {value} in all {rows} rows that have one: no model can "
        f"learn from one value; {fix}"), (f"{rows} rows of {value}", "two values or more"))]


def _short(header: list[str]) -> str:
    text = ",".join(header)
    return text if len(text) <= 60 else text[:57] + "..."


def check_header(config: Config, schema, header: list[str], ref: FileRef
                 ) -> list[dict[str, str]]:
    """Missing columns (needed by the pipeline or required by the schema) and unknown ones."""
    columns = set(header)
    needed = needed_by_config(config)
    if schema is None:
        for column, role in needed.items():
            if column not in columns:
                hint = difflib.get_close_matches(column, header, n=1)
                tip = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise ConfigError(f"{os.path.basename(ref.path)}: {role} '{column}' is not a "
                                  f"column of the data{tip}")
        return []
    known = {f.name for f in schema.feature}
    for column, role in needed.items():
        if column not in known and column not in columns:
            hint = difflib.get_close_matches(column, sorted(known | columns), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ConfigError(f"{role} '{column}' is neither a column of the data "
                              f"({os.path.basename(ref.path)}) nor of the schema{tip}")
    missing = {c: needed.get(c, "column required by the schema")
               for c in sorted(set(needed) | required_by_schema(schema)) if c not in columns}
    rows = [ref.row(column, "SCHEMA_MISSING_COLUMN", (
        "Column missing", f"the {role} '{column}' is not in the header"), ("absent", "present"))
        for column, role in missing.items()]
    halts = config.validation.new_columns == "halt"
    for column in header:
        if column not in known and column.strip():
            rows.append(ref.row(column, "SCHEMA_NEW_COLUMN", (
                "New column", f"column '{column}' is not in the curated schema "
                f"({'halts' if halts else 'reported only'}: validation.new_columns); review it "
                "with 'tfxpipe schema'"), ("present", "not in schema"), halts=halts))
    return rows
