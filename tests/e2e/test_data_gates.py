"""Bad data stops the real pipeline before Transform: nothing is trained or pushed, nothing lost.

The module starts where the shared taxi runs (tests/fixtures/taxi.py) left off: a copy of their ML
Metadata and served version 1, and their spans 35 and 36 (copied with their modification
times, so ExampleGen's fingerprints still match and span 36 counts as validated). Each test
delivers one bad span (a copy of span 36 with one defect), runs the pipeline on it (`--span N
--window 1`: drift is measured against span 36), checks the exit code, the anomaly table
(feature, kind, observed value, threshold) and that version 1 and every input file are
untouched, and withdraws the span again. The shared runs' own folders are only read.

The statistical defects go through TFX (ExampleGen, StatisticsGen, ExampleValidator, DataDrift,
DataGate), run in-process through the CLI's `main` to save TensorFlow's start-up per case; the
pre-flight ones through the CLI in a subprocess, as a user would run it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from pipeline.config.sections import TFX_TAXI_SOURCE
from tests.fixtures.cli import TAXI_CONFIG, last_run_id, read_summary, run_cli, write_config
from tests.fixtures.history import copy_history

pytestmark = pytest.mark.slow

CURATED = TAXI_CONFIG.parents[2] / "schemas" / "taxi" / "schema.pbtxt"
GOOD_SPANS = (35, 36)  # 2015-11 and 2015-12, the newest spans of the shared taxi runs


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under a folder."""
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


class Shop:
    def __init__(self, root: Path):
        self.root = root
        self.spans = root / "spans"
        self.out = root / "out"
        self.config = root / "gates.toml"

    @property
    def pipeline_dir(self) -> Path:
        return self.out / "taxi"

    @property
    def serving(self) -> Path:
        return self.pipeline_dir / "serving" / "taxi_big_tipper"

    def rows(self, span: int = 36) -> list[dict[str, str]]:
        path = next((self.spans / f"span-{span}").glob("*.csv"))
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def deliver(self, span: int, rows: list[dict[str, str]], raw: bool = False) -> Path:
        """Writes rows as span `span`; with `raw`, with a byte that is not UTF-8 in it."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        data = out.getvalue().encode("utf-8")
        if raw:
            data = data.replace(b"Cash", b"Ca\xefsh", 1)
        path = self.spans / f"span-{span}" / "delivery.csv"
        path.parent.mkdir()
        path.write_bytes(data)
        return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory, taxi_runs) -> Shop:
    shop = Shop(tmp_path_factory.mktemp("gates"))
    copy_history(taxi_runs.pipeline_dir, shop.pipeline_dir)
    for span in GOOD_SPANS:
        shutil.copytree(taxi_runs.data_dir / f"span-{span}", shop.spans / f"span-{span}")
    write_config(shop.config, taxi_runs.config, {
        f'source = "{TFX_TAXI_SOURCE}"': f'source = "{shop.spans}"',
        '# pattern = "span-{SPAN}/*.csv"': 'pattern = "span-{SPAN}/*.csv"',
    })
    with open(shop.config, "a") as handle:  # in-process runs need no working directory
        handle.write(f'\n[schema]\npath = "{CURATED}"\n')
    assert sorted(p.name for p in shop.serving.iterdir()) == ["1"]
    return shop


@pytest.fixture
def delivery(shop):
    """Delivers bad spans for one test; checks nothing was lost; withdraws them after."""
    served = _tree(shop.serving)
    good = _tree(shop.spans)
    delivered: dict[Path, str] = {}

    def deliver(span: int, rows: list[dict[str, str]], raw: bool = False) -> Path:
        path = shop.deliver(span, rows, raw)
        delivered[path] = _sha(path)
        return path

    yield deliver
    assert _tree(shop.serving) == served, "the pushed version changed"
    assert {k: v for k, v in _tree(shop.spans).items() if k in good} == good
    for path, sha in delivered.items():
        assert _sha(path) == sha, f"{path} was modified"
        shutil.rmtree(path.parent)


def _run_in_process(shop: Shop, capfd, span: int, window: int = 1) -> tuple[int, str, dict]:
    from pipeline.cli import main

    code = main(["run", "--config", str(shop.config), "--output-root", str(shop.out),
                 "--span", str(span), "--window", str(window)])
    out = capfd.readouterr().out
    runs = shop.pipeline_dir / "runs"
    return code, out, read_summary(runs, last_run_id(runs))


def _halted(shop: Shop, capfd, span: int) -> tuple[str, dict, dict[str, dict]]:
    from tests.fixtures.cli import states_of_run

    code, out, summary = _run_in_process(shop, capfd, span)
    assert code == 4, out
    assert "outcome: halted by data validation (exit 4)" in out
    states = states_of_run(shop.pipeline_dir / "metadata.sqlite", "taxi", summary["run_id"])
    assert states["DataGate"] == "FAILED" and "Transform" not in states, states
    assert "pushed" not in summary
    rows: dict[tuple[str, str], dict] = {}
    for row in summary["anomalies"]:  # the train split's row first
        rows.setdefault((row["feature"], row["kind"]), row)
    header = next(line for line in out.splitlines() if "anomaly" in line and "observed" in line)
    assert "threshold" in header and "description" in header
    return out, summary, rows


def test_wrong_type_in_a_numeric_column(shop, delivery, capfd):
    """Text in a numeric column is found before TFX starts: the column, the values, the fix."""
    rows = shop.rows()
    for row in rows[:5]:
        row["fare"] = "twelve"
    delivery(37, rows)
    code, out, summary = _run_in_process(shop, capfd, 37)
    assert code == 4, out
    assert "halted before the pipeline" in out
    [row] = summary["anomalies"]
    assert (row["feature"], row["kind"]) == ("fare", "NOT_NUMERIC")
    assert (row["observed"], row["threshold"]) == (f"5 of {len(rows)} rows", "numbers only")
    assert "'twelve'" in row["description"] and "[data] missing_values" in row["description"]


def test_missing_labels(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows[:25]:
        row["tips"] = ""
    delivery(38, rows)
    out, summary, found = _halted(shop, capfd, 38)
    row = found[("tips", "INVALID_FEATURE_SHAPE")]
    train = summary["rows"]["train"]
    assert row["split"] == "train" and row["threshold"] == "a value in every example"
    with_values = int(row["observed"].split()[3])
    assert row["observed"] == f"a value in {with_values} of {train} examples"
    assert train - 25 <= with_values < train  # some of the 25 rows without tips are in train


def test_a_feature_that_is_always_empty(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows:
        row["company"] = ""
    delivery(39, rows)
    out, summary, found = _halted(shop, capfd, 39)
    empty = found[("company", "FEATURE_TYPE_NOT_PRESENT")]
    assert empty["observed"] == f"a value in 0 of {summary['rows']['train']} examples"
    assert empty["threshold"] == "present in >= 100%, >= 1 examples"


def test_unseen_categorical_values_beyond_the_allowed_fraction(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows[::10]:  # 10% of the trips paid with a payment type never seen
        row["payment_type"] = "Bitcoin"
    delivery(40, rows)
    out, summary, found = _halted(shop, capfd, 40)
    unseen = found[("payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")]
    assert unseen["observed"] in ("9% unseen", "10% unseen", "11% unseen")
    assert unseen["threshold"] == "<= 1% unseen"
    assert "Bitcoin" in unseen["description"]


def test_extreme_numeric_values(shop, delivery, capfd):
    rows = shop.rows()
    rows[0]["pickup_latitude"] = "0.0"  # "null island": a GPS fix that failed
    rows[1]["fare"] = "-45.0"
    delivery(41, rows)
    out, summary, found = _halted(shop, capfd, 41)
    latitude = found[("pickup_latitude", "FLOAT_TYPE_SMALL_FLOAT")]
    assert (latitude["observed"], latitude["threshold"]) == ("min 0", ">= 41.6")
    fare = found[("fare", "FLOAT_TYPE_SMALL_FLOAT")]
    assert (fare["observed"], fare["threshold"]) == ("min -45", ">= 0")


def test_a_label_split_moving_by_20_points_is_stopped_by_the_drift_gate(shop, delivery,
                                                                         capfd):
    rows = shop.rows()

    def big_tipper(row):
        return float(row["tips"]) > 0.2 * float(row["fare"]) and float(row["fare"]) > 0

    before = sum(map(big_tipper, rows)) / len(rows)
    flips = round(0.20 * len(rows))
    for row in [r for r in rows if not big_tipper(r) and float(r["fare"]) > 0][:flips]:
        row["tips"] = f"{0.3 * float(row['fare']):.2f}"  # now tips 30% of the fare
    after = sum(map(big_tipper, rows)) / len(rows)
    assert after - before == pytest.approx(0.20, abs=0.005)
    delivery(42, rows)
    out, summary, found = _halted(shop, capfd, 42)
    label = found[("label", "COMPARATOR_L_INFTY_HIGH")]
    assert label["split"] == "all" and label["threshold"] == "<= 0.18"
    assert float(label["observed"]) == pytest.approx(after - before, abs=0.002)
    assert "tips > 0.2 * fare" in label["description"]
    assert "previous span 36" in label["description"]
    # Every drift value is recorded, also those under threshold, for trending.
    drift = {r["feature"]: r for r in summary["drift"] if r["span"] == 42}
    assert drift["label"]["exceeded"] is True and drift["label"]["previous_span"] == 36
    assert drift["payment_type"]["exceeded"] is False and drift["payment_type"]["value"] == 0
    assert {"company", "fare", "trip_start_hour"} <= set(drift)
    assert "drift span 42 vs 36" in out


def test_a_bad_span_of_the_window_halts_the_backfill_with_its_anomaly_table(shop, delivery,
                                                                            capfd):
    """Span 43 of the window is backfilled first. SpanValidation finds it bad and stops there;
    the span is then checked on its own (ExampleGen -> DataGate), which halts the run with the
    usual table. Nothing is trained on span 44."""
    from pipeline.records.mlmd import custom_property, open_store

    rows = shop.rows()
    for row in rows[::10]:
        row["payment_type"] = "Bitcoin"
    delivery(43, rows)
    delivery(44, shop.rows())
    code, out, summary = _run_in_process(shop, capfd, 44, window=2)
    assert code == 4, out
    assert "  span 43     validated none in " in out
    assert "span 43 of the window fails validation" in out
    assert summary["halted_span"] == 43 and "pushed" not in summary
    found = {(r["feature"], r["kind"]) for r in summary["anomalies"]}
    assert ("payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in found
    store = open_store(shop.pipeline_dir / "metadata.sqlite")
    verdicts = [custom_property(r, "passed")
                for r in store.get_artifacts_by_type("DataValidationResult")
                if custom_property(r, "span") == 43]
    assert verdicts == [0]  # SpanValidation's; the failed DataGate publishes no result
    runs = [c.name for c in store.get_contexts_by_type("pipeline_run")]
    assert f"{summary['run_id']}-span-43-43" in runs and summary["run_id"] not in runs


def test_unreadable_input_halts_before_the_pipeline_with_exit_4(shop, delivery):
    from pipeline.records.mlmd import open_store, run_ids

    runs_before = run_ids(open_store(shop.pipeline_dir / "metadata.sqlite"))
    delivery(43, shop.rows(), raw=True)
    process = run_cli("run", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "43", "--window", "1", timeout=120)
    assert process.returncode == 4, process.stdout + process.stderr
    assert "halted before the pipeline" in process.stdout
    assert "NOT_UTF8" in process.stdout and "re-encode the file as UTF-8" in process.stdout
    summary = read_summary(shop.pipeline_dir / "runs", last_run_id(shop.pipeline_dir / "runs"))
    assert summary["exit_code"] == 4 and summary["anomalies"][0]["kind"] == "NOT_UTF8"
    # TFX never started: no new run in ML Metadata; 'tfxpipe runs' still lists the halt.
    assert run_ids(open_store(shop.pipeline_dir / "metadata.sqlite")) == runs_before
    listed = run_cli("runs", "--config", str(shop.config), "--output-root", str(shop.out),
                     "--json", timeout=120)
    last = json.loads(listed.stdout)["runs"][-1]
    assert last["run_id"] == summary["run_id"]
    assert (last["outcome"], last["detail"]) == ("halted by data validation",
                                                 "pre-flight: NOT_UTF8 in span 43")


def test_a_span_that_does_not_exist_and_a_config_pointing_nowhere_exit_2(shop, tmp_path):
    process = run_cli("run", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "99", timeout=120)
    assert process.returncode == 2
    assert "span 99 does not exist" in process.stderr
    assert "spans available: 35-36" in process.stderr
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(shop.config.read_text().replace(str(shop.spans), str(tmp_path / "gone")))
    process = run_cli("run", "--config", str(nowhere), "--output-root", str(shop.out),
                      timeout=120)
    assert process.returncode == 2 and "data source not found" in process.stderr
    assert "Traceback" not in process.stderr


def test_schema_command_infers_from_a_span_and_never_changes_the_curated_schema(shop, delivery):
    before = _sha(CURATED)
    rows = shop.rows()
    for row in rows:
        row["surge"] = "1.5"
    for row in rows[::10]:
        row["payment_type"] = "Bitcoin"
    delivery(44, rows)
    process = run_cli("schema", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "44", timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr[-2000:]
    out = process.stdout
    assert "schema review: span 44" in out
    assert "surge" in out and "new column" in out
    assert "payment_type" in out and "Bitcoin" in out
    assert "values per example" not in out  # empty cells are 0..1 values, as curated
    assert _sha(CURATED) == before
    folder = shop.pipeline_dir / "schema_review" / "span-44"
    diff = json.loads((folder / "schema.diff.json").read_text())
    aspects = {(d["feature"], d["aspect"]) for d in diff["differences"]}
    assert ("surge", "new column") in aspects and ("payment_type", "domain") in aspects
    assert (folder / "schema.inferred.pbtxt").read_text().count("feature {") >= 18
