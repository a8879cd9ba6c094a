"""A user's own CSV: each way it used to fail on the first try now ends in a pushed model, or in
one line saying what is wrong and what to do, with a report listed in `tfxpipe runs`.

Pre-flight cases start from nothing (a new output root); the others continue a run of the
dataset matrix (tests/fixtures/datasets.py) in a copy of its state, with one more span
delivered. Every case goes through the CLI in a subprocess, as a user would run it.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest

from tests.fixtures.cli import last_run_id, read_summary, run_cli
from tests.fixtures.datasets import branch, clean_csv, deliver, dirty_csv, load, write
from tests.fixtures.notebook import kernel_data_dir, start_notebook

pytestmark = pytest.mark.slow


class Outcome:
    """What one `tfxpipe run` left: exit code, terminal output, summary, runs listing."""

    def __init__(self, config: Path, process):
        self.config = config
        self.process = process
        self.out = process.stdout + process.stderr
        self.pipeline_dir = next(p for p in (config.parent / "out").iterdir()
                                 if p.is_dir() and not p.name.startswith("."))
        self.run_id = last_run_id(self.pipeline_dir / "runs")
        self.summary = read_summary(self.pipeline_dir / "runs", self.run_id)

    def listed(self) -> dict:
        listing = run_cli("runs", "--config", str(self.config), "--json", timeout=120)
        assert listing.returncode == 0, listing.stderr
        return {r["run_id"]: r for r in json.loads(listing.stdout)["runs"]}[self.run_id]

    def report(self) -> Path:
        found = re.findall(r"^report: (.+)$", self.process.stdout, re.MULTILINE)
        assert len(found) == 1 and Path(found[0]).is_file(), self.process.stdout
        return Path(found[0])

    def served(self) -> list[str]:
        serving = self.pipeline_dir / "serving"
        return sorted(p.name for p in serving.glob("*/*") if p.name.isdigit())


def _run(config: Path, *args: str) -> Outcome:
    return Outcome(config, run_cli("run", "--config", str(config), *args))


def _halted_in_one_line(outcome: Outcome, *fragments: str) -> str:
    """Exit 4, no trace; the one line holding every fragment."""
    assert outcome.process.returncode == 4, outcome.out[-3000:]
    assert "Traceback" not in outcome.out
    lines = [line for line in outcome.out.splitlines() if all(f in line for f in fragments)]
    assert lines, outcome.out[-3000:]
    return lines[0]


def _starts_fresh(tmp_path: Path, name: str, text: str, settings: str = "") -> Path:
    """A new user's first run: one CSV as span 1, the matrix's config plus `settings` in
    [data]."""
    config = write(load(name), tmp_path, dirty=False, optimization="")
    (tmp_path / "spans" / "span-1" / f"{name}.csv").write_text(text, encoding="utf-8",
                                                               newline="")
    config.write_text(config.read_text().replace(
        'pattern = "span-{SPAN}/*.csv"', 'pattern = "span-{SPAN}/*.csv"\n' + settings))
    return config


def test_semicolons_where_commas_are_configured_halt_naming_both_delimiters(tmp_path):
    config = _starts_fresh(tmp_path, "breast_cancer", dirty_csv(load("breast_cancer")),
                           'delimiter = ","')
    outcome = _run(config)
    _halted_in_one_line(outcome, "delimiter ','", "splits on ';'",
                        "set [data] delimiter = ';'")
    assert [r["kind"] for r in outcome.summary["anomalies"]] == ["WRONG_DELIMITER"]
    assert outcome.served() == []
    # A run halted before TFX started, on a new output root: listed, reported, openable.
    assert outcome.listed()["outcome"] == "halted by data validation"
    assert "WRONG_DELIMITER" in outcome.report().read_text()
    again = run_cli("report", "--config", str(config), "--run", outcome.run_id[:13],
                    timeout=300)
    assert again.returncode == 0 and again.stdout.startswith("report: "), again.stderr
    _open_in_the_notebooks(outcome, tmp_path / "notebooks")


def test_a_header_repeated_inside_the_file_is_one_line_with_its_line_number(tmp_path):
    lines = clean_csv(load("iris")).splitlines(keepends=True)
    text = "".join(lines[:76] + lines[:1] + lines[76:])  # the header again as line 77
    outcome = _run(_starts_fresh(tmp_path, "iris", text))
    _halted_in_one_line(outcome, "line 77 repeats the header row")
    assert [r["kind"] for r in outcome.summary["anomalies"]] == ["REPEATED_HEADER"]
    assert outcome.served() == [] and outcome.listed()["detail"].startswith(
        "pre-flight: REPEATED_HEADER")


HOSTILE = "<img src=x onerror=alert(1)>"


def test_a_column_still_not_numeric_names_itself_three_values_and_the_fix(tmp_path):
    """...and a value written as an HTML tag stays text in the report and both notebooks."""
    dataset = load("wine")
    rows = [list(r) for r in dataset.rows]
    for number, row in enumerate(rows):
        if number % 7 == 0:
            row[2] = ("n.a.", "?", HOSTILE)[number % 3]  # not in the default missing values
    header = ",".join(dataset.header) + "\n"
    outcome = _run(_starts_fresh(tmp_path, "wine", header + "".join(
        ",".join(r) + "\n" for r in rows)))
    line = _halted_in_one_line(outcome, f"column '{dataset.header[2]}'", "[data] missing_values")
    assert all(token in line for token in ("n.a.", "?", HOSTILE))
    assert outcome.served() == [] and outcome.report().is_file()
    report = outcome.report().read_text()
    assert HOSTILE not in report and html.escape(HOSTILE) in report
    html_outputs = _open_in_the_notebooks(outcome, tmp_path / "notebooks")
    assert not any(HOSTILE in text for text in html_outputs.values())
    assert html.escape(HOSTILE, quote=False) in html_outputs["data_validation"]


def test_an_unseen_label_class_halts_naming_the_class_and_its_count(user_runs, tmp_path):
    config = branch(user_runs.get("iris", False), tmp_path)
    dataset = load("iris")
    rows = [list(r) for r in dataset.rows[::2]]
    for row in rows[:3]:
        row[-1] = "hybrid"
    deliver(config, 2, dataset.header, rows)
    outcome = _run(config, "--span", "2")
    _halted_in_one_line(outcome, "'hybrid'", "3 example(s) in span 2")
    rows = [r for r in outcome.summary["anomalies"] if r["kind"] == "LABEL_NEW_CLASS"]
    assert [(r["feature"], r["observed"]) for r in rows] == [("label", "3 example(s)")]
    assert outcome.served() == ["1"]
    assert outcome.listed()["outcome"] == "halted by data validation"
    assert "LABEL_NEW_CLASS" in outcome.report().read_text()


def test_a_regression_label_is_judged_by_its_mean_shift_in_its_own_units(user_runs, tmp_path):
    """Span 2 varies as real months do and passes (validated by the backfill); span 3's label
    moved by 150 (about two standard deviations) and halts, in the label's units."""
    config = branch(user_runs.get("diabetes", False), tmp_path)
    dataset = load("diabetes")
    deliver(config, 2, dataset.header, [list(r) for r in dataset.rows[221:]])
    shifted = [r[:-1] + [f"{float(r[-1]) + 150:g}"] for r in dataset.rows[::2]]
    deliver(config, 3, dataset.header, shifted)
    outcome = _run(config, "--span", "3", "--window", "2")
    [ordinary] = [r for r in outcome.summary["drift"]
                  if r["span"] == 2 and r["feature"] == "label"]
    assert ordinary["comparator"] == "mean_shift" and ordinary["judged"]
    assert not ordinary["exceeded"]
    line = _halted_in_one_line(outcome, "mean")
    assert "class" not in outcome.out
    [row] = [r for r in outcome.summary["anomalies"] if r["kind"] == "LABEL_MEAN_SHIFT_HIGH"]
    # In the label's units: the means of both spans' train splits and their difference.
    moved = re.search(r"moved from a mean of ([\d.]+) in span 2 to ([\d.]+) in span 3 "
                      r"\(\+([\d.]+), ([\d.]+) standard deviations", row["description"])
    assert moved, row["description"]
    assert 120 < float(moved[3]) < 180 and float(moved[4]) > 0.5
    assert line and outcome.served() == ["1"]


def test_a_one_row_span_halts_on_its_empty_eval_split_and_judges_no_drift(user_runs,
                                                                          tmp_path):
    config = branch(user_runs.get("iris", False), tmp_path)
    dataset = load("iris")
    deliver(config, 2, dataset.header, [list(dataset.rows[0])])
    outcome = _run(config, "--span", "2")
    _halted_in_one_line(outcome, "eval split of this span holds no example")
    assert {r["kind"] for r in outcome.summary["anomalies"]} == {"EMPTY_SPLIT"}
    drift = [r for r in outcome.summary["drift"] if r["span"] == 2]
    assert drift and not any(r["judged"] for r in drift)
    assert all("not judged: 1 example(s)" in r["note"] for r in drift)
    assert "not judged" in outcome.report().read_text()
    assert outcome.served() == ["1"]


def test_a_run_halted_in_the_backfill_is_listed_and_opens_in_report_and_notebooks(
        user_runs, tmp_path):
    config = branch(user_runs.get("wine", False), tmp_path)
    dataset = load("wine")
    bad = [list(r) for r in dataset.rows[::2]]
    bad[0][-1] = "class_9"
    deliver(config, 2, dataset.header, bad)
    deliver(config, 3, dataset.header, [list(r) for r in dataset.rows[1::2]])
    outcome = _run(config, "--span", "3", "--window", "2")
    _halted_in_one_line(outcome, "'class_9'")
    assert outcome.summary["halted_span"] == 2
    listed = outcome.listed()
    assert (listed["outcome"], listed["detail"]) == ("halted by data validation",
                                                     "1 anomaly in span 2")
    report = run_cli("report", "--config", str(config), "--run", outcome.run_id, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "LABEL_NEW_CLASS" in Path(report.stdout.split("report: ")[1].strip()).read_text()
    _open_in_the_notebooks(outcome, tmp_path / "notebooks")


def _open_in_the_notebooks(outcome: Outcome, folder: Path) -> dict[str, str]:
    """Both review notebooks run on the run without a failing cell, and say what it was; the
    HTML they show, by notebook."""
    import nbformat

    folder.mkdir()
    data_dir = kernel_data_dir(folder)
    started = [start_notebook(notebook, outcome.config, outcome.config.parent / "out",
                              outcome.run_id, folder, notebook, data_dir)
               for notebook in ("data_validation", "model_analysis")]
    html_outputs = {}
    for (process, target), notebook in zip(started, ("data_validation", "model_analysis"),
                                           strict=True):
        _, err = process.communicate(timeout=900)
        assert process.returncode == 0, f"{target}: {err[-3000:]}"
        cells = nbformat.read(target, as_version=4)["cells"]
        text = json.dumps(cells)
        assert outcome.run_id in text and "halted by data validation" in text
        html_outputs[notebook] = "".join(
            "".join(output.get("data", {}).get("text/html", ""))
            for cell in cells for output in cell.get("outputs", []))
    return html_outputs


def _span_fingerprints(config: Path, span: int) -> list[str]:
    """The input fingerprint of every Examples artifact ExampleGen wrote of `span`, oldest
    first."""
    from pipeline.records.mlmd import custom_property, open_store, property_value

    store = open_store(next((config.parent / "out").glob("*/metadata.sqlite")))
    examples = sorted(store.get_artifacts_by_type("Examples"), key=lambda a: a.id)
    return [property_value(a, "input_fingerprint") for a in examples  # ExampleGen's only
            if custom_property(a, "span") == span and property_value(a, "input_fingerprint")]


def test_a_file_replaced_with_the_same_size_and_time_is_ingested_again(tmp_path):
    """`cp -p` or `rsync -t` of other data over a span's file keeps its size and modification
    time, all that TFX's fingerprint holds: the contents are part of it, so the run reads the new
    rows rather than serving the old examples from TFX's cache. (Both runs in one folder: a
    copied state has another input path, which alone misses TFX's cache.)"""
    config = write(load("iris"), tmp_path, dirty=False, optimization="")
    assert _run(config).process.returncode == 0
    [data] = (tmp_path / "spans" / "span-1").glob("*.csv")
    before, [first] = data.stat(), _span_fingerprints(config, 1)
    lines = data.read_text().splitlines(keepends=True)
    changed = [lines[0], *(("9" + line[1:]) if i % 10 == 0 else line
                           for i, line in enumerate(lines[1:]))]
    assert changed != lines
    data.write_text("".join(changed))
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (data.stat().st_size, data.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    outcome = _run(config)
    assert outcome.process.returncode == 0, outcome.out[-3000:]
    fingerprints = _span_fingerprints(config, 1)
    assert len(fingerprints) == 2, fingerprints  # ingested again, not served from cache
    # TFX's part (file count, bytes, modification times) is the same; the contents' is not.
    assert fingerprints[1].split("\n")[0] == first.split("\n")[0]
    assert fingerprints[1] != first
    assert "(unchanged: served from cache)" not in outcome.out
    assert outcome.summary["pushed_version"] == "2"


def _latest_examples_feature(config: Path, name: str):
    """Feature `name` of the first example ExampleGen wrote last, as a tf.train.Feature."""
    import tensorflow as tf

    examples = (config.parent / "out").glob("*/pipeline_root/CsvExampleGen/examples/*")
    newest = max(examples, key=lambda p: p.stat().st_mtime)
    path = sorted(newest.glob("Split-train/*.gz"))[0]
    record = next(iter(tf.data.TFRecordDataset(str(path), compression_type="GZIP")))
    return tf.train.Example.FromString(record.numpy()).features.feature[name]


def test_codes_with_leading_zeros_are_reported_then_kept_as_written_when_configured(tmp_path):
    """A categorical column of codes (`zip`: '007') is typed INT by ExampleGen, as TFX types
    it: the run says so and how to keep them. With [data] text_columns they stay text and the
    trained model takes '007' from a client; a pipeline whose served model was trained on the
    numbers refuses the change in one line (that model could not read the text)."""
    import tensorflow as tf

    dataset = load("iris")
    codes = [f"{(i * 7) % 13:03d}" for i in range(len(dataset.rows))]
    coded = type(dataset)(dataset.name, dataset.kind, ["zip", *dataset.header],
                          [[code, *row] for code, row in zip(codes, dataset.rows, strict=True)],
                          dataset.numeric)
    config = write(coded, tmp_path, dirty=False, optimization="")
    config.write_text(config.read_text().replace('categorical = ["band"]',
                                                 'categorical = ["band", "zip"]'))
    first = _run(config)
    assert first.process.returncode == 0, first.out[-3000:]
    assert "add 'zip' to [data] text_columns to keep them as written" in first.out
    assert _latest_examples_feature(config, "zip").WhichOneof("kind") == "int64_list"

    pattern = 'pattern = "span-{SPAN}/*.csv"\n'
    config.write_text(config.read_text().replace(pattern, pattern + 'text_columns = ["zip"]\n'))
    refused = run_cli("run", "--config", str(config))  # version 1 reads zip as INT
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip() == (
        "error: 'data.text_columns' reads 'zip' as BYTES, but the served model (version 1) was "
        "trained on it as INT and cannot read that, so the new model cannot be compared with "
        "it: keep the column's type, or start a new pipeline for the new type (another "
        "[pipeline] name)")

    config.write_text(config.read_text().replace('name = "iris"', 'name = "iris-coded"'))
    second = run_cli("run", "--config", str(config))
    assert second.returncode == 0, second.stdout + second.stderr
    runs = config.parent / "out" / "iris-coded" / "runs"
    assert read_summary(runs, last_run_id(runs))["pushed_version"] == "1"
    assert "text_columns" not in second.stdout
    zip_feature = _latest_examples_feature(config, "zip")
    assert zip_feature.bytes_list.value[0].decode() in codes
    [model] = (config.parent / "out" / "iris-coded" / "serving").glob("*/1")
    serve = tf.saved_model.load(str(model)).signatures["serving_default"]
    example = tf.train.Example()
    for column, value in zip(coded.header[:-1], [*coded.rows[0][:-1]], strict=True):
        feature = example.features.feature[column]
        if column in coded.numeric:
            feature.float_list.value.append(float(value))
        else:
            feature.bytes_list.value.append(value.encode())
    outputs = next(iter(serve(examples=tf.constant([example.SerializeToString()])).values()))
    assert outputs.shape[0] == 1 and bool(tf.reduce_all(tf.math.is_finite(outputs)))


def test_quoted_fields_holding_line_breaks_run_through_to_a_pushed_model(tmp_path):
    """A spreadsheet's export: a free-text column and a categorical one whose quoted cells hold
    line breaks (CRLF inside, LF outside). TFX's CsvExampleGen reads a line at a time and
    fails; here every record is one example, and the run pushes."""
    import csv
    import io

    dataset = load("iris")
    config = write(dataset, tmp_path, dirty=False, optimization="")
    [data] = (tmp_path / "spans" / "span-1").glob("*.csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*dataset.header, "note"])
    for i, row in enumerate(dataset.rows):
        band = row[-2].replace("q", "quartile\r\n") if i % 2 else row[-2]
        writer.writerow([*row[:-2], band, row[-1], f"row {i}\r\nchecked, ok" if i % 3 else ""])
    data.write_text(out.getvalue(), encoding="utf-8", newline="")
    outcome = _run(config)
    assert outcome.process.returncode == 0, outcome.out[-3000:]
    assert f"{len(dataset.rows)} rows" in outcome.out
    assert outcome.summary["pushed_version"] == "1"
    notes = _latest_examples_feature(config, "note")
    assert notes.WhichOneof("kind") == "bytes_list"
