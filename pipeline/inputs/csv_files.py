"""One CSV file, checked before TFX reads it: encoding, emptiness, the delimiter, quoting, field
counts, a header repeated inside the file, and the values of the columns that must be numbers.

Each finding is a row of the anomaly table the data gates produce (`FileRef.row`). Pure Python,
one pass over the file.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.sections import AUTO, DELIMITERS
from pipeline.inputs.labels import OTHER_UNREAD, LabelRule, LabelValues

INPUT_SPLIT = "-"  # pre-flight rows are about files, before ExampleGen splits them
HALT, REPORT = "halt", "report"
_SAMPLES = 3
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LEADING_ZERO = re.compile(r"[+-]?0[0-9]+")


@dataclass(frozen=True)
class FileRef:
    """Where a finding is: a file of a span."""

    path: str
    span: int

    def row(self, feature: str, kind: str, text: tuple[str, str],
            measured: tuple[str, str] = ("-", "-"), halts: bool = True) -> dict[str, str]:
        """An anomaly-table row: `text` is (short, description), `measured` (observed,
        threshold)."""
        return {"split": INPUT_SPLIT, "span": self.span, "file": self.path, "feature": feature,
                "kind": kind, "short": text[0], "description": text[1],
                "observed": measured[0], "threshold": measured[1],
                "severity": HALT if halts else REPORT}


@dataclass(frozen=True)
class CsvRules:
    """How the files are read: the delimiter (or "auto": the one the header line is written
    with), the cells that mean a missing value (lower case, stripped), the columns whose
    present values must be numbers ({column: "int" or "float", with the column's role}), how
    the label column is read (its values are counted), and the categorical columns ExampleGen
    types as integers when every value is one (a code written with leading zeros is reported:
    as a number it loses them)."""

    delimiter: str = AUTO
    missing: frozenset[str] = frozenset({""})
    numeric: dict[str, tuple[str, str]] = field(default_factory=dict)
    label: LabelRule | None = None
    codes: frozenset[str] = frozenset()  # categorical columns read as numbers when they look so


@dataclass
class FileCheck:
    header: list[str] | None
    delimiter: str
    problems: list[dict[str, str]]
    label: LabelValues | None = None
    records: int = 0  # data records read (a quoted field may hold line breaks)


def detect_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header line into the most fields (',' on a
    tie, and for a single column)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


def _decode(path: str, ref: FileRef) -> tuple[str | None, list[dict[str, str]]]:
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start: error.start + 1].hex()
        return None, [ref.row("(file)", "NOT_UTF8", (
            "Not UTF-8 text", f"line {line} has bytes that are not UTF-8 (0x{byte} at byte "
            f"{error.start}); re-encode the file as UTF-8"), (f"0x{byte} at line {line}",
                                                             "UTF-8"))]
    if not text.strip():
        return None, [ref.row("(file)", "EMPTY_FILE", (
            "Empty file", "the file is empty; it needs a header row and data rows"),
            ("0 rows", "a header and >= 1 row"))]
    # A UTF-8 byte-order mark is not part of the first column's name (ExampleGen skips it too).
    return (text[1:] if text.startswith("\ufeff") else text), []


def _delimiter(text: str, rules: CsvRules, ref: FileRef
               ) -> tuple[str, list[dict[str, str]]]:
    """The delimiter to read with, and a row when the file is written with another one."""
    first_line = text.split("\n", 1)[0].rstrip("\r")
    found = detect_delimiter(first_line)
    if rules.delimiter == AUTO:
        return found, []
    configured = len(next(csv.reader([first_line], delimiter=rules.delimiter), []))
    if configured == 1 and found != rules.delimiter:
        shown = "\\t" if found == "\t" else found
        return rules.delimiter, [ref.row("(header)", "WRONG_DELIMITER", (
            "Another delimiter", f"the header is one column with the delimiter "
            f"{rules.delimiter!r} but splits on {shown!r}: set [data] delimiter = '{shown}' "
            "(or 'auto')"), (repr(found), repr(rules.delimiter)))]
    return rules.delimiter, []


def read_csv(path: str, span: int = 0, rules: CsvRules = CsvRules()) -> FileCheck:
    """The file's header, the delimiter it is read with, and its problems."""
    ref = FileRef(path, span)
    text, problems = _decode(path, ref)
    if text is None:
        return FileCheck(None, rules.delimiter if rules.delimiter != AUTO else ",", problems)
    delimiter, problems = _delimiter(text, rules, ref)
    if problems:
        return FileCheck(None, delimiter, problems)
    scan = _Scan(ref, rules, delimiter)
    scan.run(text)
    return FileCheck(scan.header, delimiter,
                     scan.problems + scan.numeric_problems() + scan.label_problems()
                     + scan.code_notes(), scan.label_values, scan.records)


class _Scan:
    """One pass over the records: structure first (a structural problem stops the pass), the
    numeric columns' values all along."""

    def __init__(self, ref: FileRef, rules: CsvRules, delimiter: str):
        self.ref, self.rules, self.delimiter = ref, rules, delimiter
        self.header: list[str] | None = None
        self.problems: list[dict[str, str]] = []
        self.records = 0
        self.bad: dict[str, list[str]] = {}       # column -> values that are not numbers
        self.bad_counts: dict[str, int] = {}
        self.columns: dict[int, tuple[str, str]] = {}  # index -> (column, kind)
        self.label_index: int | None = None
        self.label_values = LabelValues(rules.label.kind, rule=rules.label) if rules.label else None
        self.missing_labels: list[int] = []  # [line of the first, count]
        self.codes: dict[int, str] = {}     # index -> categorical column that may be a code
        self.zeros: dict[str, list] = {}    # column -> [rows with a leading zero, a sample]

    def run(self, text: str) -> None:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter,
                            strict=True)
        line = 0
        try:
            for record in reader:
                start, line = line + 1, reader.line_num
                if self.header is None:
                    self._take_header(record)
                    continue
                if not record or record == [""]:
                    continue  # a blank line
                problem = self._record(record, start, line)
                if problem:
                    self.problems.append(problem)
                    break
        except csv.Error as error:
            at = line + 1  # the record that failed starts after the last good one
            self.problems.append(self.ref.row("(row)", "MALFORMED_CSV", (
                "Malformed quoting", f"the record at line {at} is not valid CSV ({error}): a "
                "quote is not closed, or text follows a closing quote"),
                (f"line {at}", "balanced quotes")))
        if self.header is not None and self.records == 0 and not self.problems:
            self.problems.append(self.ref.row("(file)", "NO_DATA_ROWS", (
                "Header only", "has a header but no data rows"), ("0 rows", ">= 1 row")))

    def _take_header(self, record: list[str]) -> None:
        self.header = record
        self.problems += header_problems(self.ref, record)
        self.columns = {i: (name, self.rules.numeric[name][0]) for i, name in enumerate(record)
                        if name in self.rules.numeric}
        if self.rules.label and self.rules.label.column in record:
            self.label_index = record.index(self.rules.label.column)
        self.codes = {i: name for i, name in enumerate(record) if name in self.rules.codes}

    def _record(self, record: list[str], start: int, line: int) -> dict[str, str] | None:
        """The structural problem of one record, if any; else its numeric values checked."""
        header = self.header
        if record == header:
            return self.ref.row("(row)", "REPEATED_HEADER", (
                "Header repeated", f"line {line} repeats the header row (files joined "
                "together?): remove it"), (f"line {line}", "one header, on line 1"))
        if len(record) != len(header):
            # A quoted field may hold line breaks (ExampleGen reads them as CSV does); a quote
            # left open makes one record of many lines, with too many fields or too few.
            where = (f"line {line} has" if line == start else
                     f"the record on lines {start}-{line} (a quote opened on line {start} and "
                     "closed only there?) has")
            return self.ref.row("(row)", "MALFORMED_CSV", (
                "Wrong field count", f"{where} {len(record)} fields, the header has "
                f"{len(header)}; check quoting and delimiters there"),
                (f"{len(record)} fields", f"{len(header)} fields"))
        self.records += 1
        if self.label_index is not None:
            cell = record[self.label_index].strip()
            if cell.lower() not in self.rules.missing:
                self.label_values.add(cell)
            elif not self.missing_labels:
                self.missing_labels = [line, 1]
            else:
                self.missing_labels[1] += 1
        for index, (column, kind) in self.columns.items():
            cell = record[index].strip()
            if cell.lower() not in self.rules.missing and not _is_number(cell, kind):
                self.bad_counts[column] = self.bad_counts.get(column, 0) + 1
                samples = self.bad.setdefault(column, [])
                if cell not in samples and len(samples) < _SAMPLES:
                    samples.append(cell)
        for index, column in list(self.codes.items()):
            self._code(index, column, record[index].strip())
        return None

    def _code(self, index: int, column: str, cell: str) -> None:
        """Counts a categorical cell written as an integer with leading zeros; a column with a
        value that is no integer is text to ExampleGen, and is no longer watched."""
        if cell.lower() in self.rules.missing:
            return
        if not _INTEGER.fullmatch(cell):
            del self.codes[index]
            self.zeros.pop(column, None)
        elif _LEADING_ZERO.fullmatch(cell):
            self.zeros.setdefault(column, [0, cell])[0] += 1

    def code_notes(self) -> list[dict[str, str]]:
        """A reported row per categorical column of integers some written with leading zeros."""
        return [self.ref.row(column, "LEADING_ZEROS", (
            "Codes read as numbers", f"categorical column '{column}' holds codes written with "
            f"leading zeros, e.g. {sample!r}, which are read as the number {int(sample)} (so "
            f"{sample!r} and {str(int(sample))!r} are one category, and a client sending "
            f"{sample!r} is refused): add '{column}' to [data] text_columns to keep them as "
            "written"), (f"{count} of {self.records} rows", "text"), halts=False)
            for column, (count, sample) in self.zeros.items()]

    def numeric_problems(self) -> list[dict[str, str]]:
        rows = []
        for column, samples in self.bad.items():
            kind, role = self.rules.numeric[column]
            what = "integers" if kind == "int" else "numbers"
            shown = ", ".join(repr(s) for s in samples)
            rows.append(self.ref.row(column, "NOT_NUMERIC", (
                f"Not {what}", f"column '{column}' ({role}) holds values that are not {what}, "
                f"e.g. {shown}: add them to [data] missing_values if they mean a missing value, "
                "else fix the data or the column's type"),
                (f"{self.bad_counts[column]} of {self.records} rows", f"{what} only")))
        return rows

    def label_problems(self) -> list[dict[str, str]]:
        """Rows without a label (but of a derived one: a missing input reads as 0), and a binary
        label's text read as neither 0 nor 1 (`labels.LabelValues`)."""
        rows = []
        column = self.rules.label.column if self.rules.label else ""
        if self.missing_labels and not self.rules.label.derived:
            line, count = self.missing_labels
            rows.append(self.ref.row(column, "MISSING_LABEL", (
                "Label missing", f"label '{column}' is missing in {count} of {self.records} "
                f"rows (the first on line {line}): a row without a label can be neither "
                "trained on nor evaluated; remove those rows, or fill in their label"),
                (f"{count} of {self.records} rows", "a label in every row")))
        unread = self.label_values.unread() if self.label_values else {}
        if not unread:
            return rows
        shown = ", ".join(repr(text) for text in unread if text != OTHER_UNREAD)
        return rows + [self.ref.row(column, "NOT_BINARY", (
            "Label not read", f"binary label '{column}' holds text that is neither a number "
            f"nor true/false or yes/no, e.g. {shown}: set [label] positive_values to the "
            "text of the positive class (the rest is 0), or add the text to [data] "
            "missing_values if it means a missing label"),
            (f"{sum(unread.values())} of {self.records} rows", "numbers, true/false, yes/no"))]


def _is_number(cell: str, kind: str) -> bool:
    """A finite number (an int when `kind` is int): 'inf' would train a model to NaN."""
    try:
        value = float(cell)
    except ValueError:
        return False
    if not math.isfinite(value):
        return False
    return kind != "int" or (value.is_integer() and "." not in cell and "e" not in cell.lower())


def header_problems(ref: FileRef, header: list[str]) -> list[dict[str, str]]:
    seen: set[str] = set()
    problems = []
    for name in header:
        if name in seen:
            problems.append(ref.row(name, "MALFORMED_CSV", (
                "Duplicate column", f"column '{name}' appears twice in the header"),
                ("2 columns", "unique names")))
        seen.add(name)
    unnamed = [i + 1 for i, name in enumerate(header) if not name.strip()]
    if unnamed:
        where = "last" if unnamed == [len(header)] else f"number {unnamed[0]}"
        problems.append(ref.row("(header)", "MALFORMED_CSV", (
            "Unnamed column", f"the header's {where} column has no name"
            + (" (a delimiter at the end of every line, as some spreadsheets write: remove it)"
               if where == "last" else ": name it in the header")),
            ("''", "every column named")))
    return problems
