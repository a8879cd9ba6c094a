"""Bad data stops the real pipeline before Transform: nothing is trained or pushed, nothing lost.

One output root for the module, as a user's successive runs: a good run on two monthly spans
of the taxi sample pushes version 1; then each test delivers one bad span (a copy of the newest
good span with one defect), runs the pipeline on it (`--span N --window 1`), checks the exit
code, the anomaly table (feature, kind, observed value, threshold) and that version 1 and every
input file are untouched, and withdraws the span again.

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

from pipeline.data import month_span, tfx_taxi_csv
from tests.e2e_helpers import TAXI_CONFIG, last_run_id, read_summary, run_cli, write_config

pytestmark = pytest.mark.slow

GOOD_MONTHS = {1: "2015-11", 2: "2015-12"}


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

    def rows(self, span: int = 2) -> list[dict[str, str]]:
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
def shop(tmp_path_factory) -> Shop:
    shop = Shop(tmp_path_factory.mktemp("gates"))
    with open(tfx_taxi_csv(), encoding="utf-8") as handle:
        lines = handle.readlines()
    column = next(csv.reader([lines[0]])).index("trip_start_timestamp")
    for span, month in GOOD_MONTHS.items():
        rows = [line for line in lines[1:]
                if month_span(int(next(csv.reader([line]))[column]))[1] == month]
        folder = shop.spans / f"span-{span}"
        folder.mkdir(parents=True)
        (folder / f"{month}.csv").write_text(lines[0] + "".join(rows), encoding="utf-8")
    write_config(shop.config, TAXI_CONFIG, {
        'source = "tfx:chicago_taxi"': f'source = "{shop.spans}"',
        '# pattern = "span-{SPAN}/*.csv"': 'pattern = "span-{SPAN}/*.csv"',
        "window = 24 ": "window = 2 ",
        "train_steps = 2000": "train_steps = 100",
        "steps_per_epoch = 200": "steps_per_epoch = 50",
        "batch_size = 256": "batch_size = 64",
        "eval_steps = 20": "eval_steps = 3",
        "lower_bound = 0.80 ": "lower_bound = 0.50 ",
    })
    text = shop.config.read_text()
    shop.config.write_text(text + f'\n[schema]\npath = "{TAXI_CONFIG.parents[2]}'
                                  '/schemas/taxi/schema.pbtxt"\n')
    process = run_cli("run", "--config", str(shop.config), "--output-root", str(shop.out))
    assert process.returncode == 0, process.stdout + process.stderr[-3000:]
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


def _run_in_process(shop: Shop, capfd, span: int) -> tuple[int, str, dict]:
    from pipeline.cli import main

    code = main(["run", "--config", str(shop.config), "--output-root", str(shop.out),
                 "--span", str(span), "--window", "1"])
    out = capfd.readouterr().out
    runs = shop.pipeline_dir / "runs"
    return code, out, read_summary(runs, last_run_id(runs))


def _halted(shop: Shop, capfd, span: int) -> tuple[str, dict, dict[str, dict]]:
    from tests.e2e_helpers import states_of_run

    code, out, summary = _run_in_process(shop, capfd, span)
    assert code == 4, out
    assert "outcome: halted by data validation (exit 4)" in out
    states = states_of_run(shop.pipeline_dir / "metadata.sqlite", "taxi", summary["run_id"])
    assert states["DataGate"] == "FAILED" and "Transform" not in states, states
    assert "pushed" not in summary
    rows = {(r["feature"], r["kind"]): r for r in summary["anomalies"]}
    header = next(line for line in out.splitlines() if "anomaly" in line and "observed" in line)
    assert "threshold" in header and "description" in header
    return out, summary, rows


def test_wrong_type_in_a_numeric_column(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows[:5]:
        row["fare"] = "twelve"
    delivery(3, rows)
    out, summary, found = _halted(shop, capfd, 3)
    typed = found[("fare", "UNEXPECTED_DATA_TYPE")]
    assert (typed["observed"], typed["threshold"]) == ("STRING", "FLOAT")
    assert found[("fare", "FLOAT_TYPE_STRING_NOT_FLOAT")]["observed"] == '"twelve"'
    assert "UNEXPECTED_DATA_TYPE" in out


def test_missing_labels(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows[:25]:
        row["tips"] = ""
    delivery(4, rows)
    out, summary, found = _halted(shop, capfd, 4)
    [(key, row)] = [(k, r) for k, r in found.items() if k[0] == "tips" and r["split"] == "train"]
    assert key[1] in ("INVALID_FEATURE_SHAPE", "FEATURE_TYPE_LOW_FRACTION_PRESENT")
    assert row["observed"].endswith("0-1 values each")
    assert row["threshold"] == "a value in every example"


def test_a_feature_that_is_always_empty(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows:
        row["company"] = ""
    delivery(5, rows)
    out, summary, found = _halted(shop, capfd, 5)
    empty = found[("company", "FEATURE_TYPE_NOT_PRESENT")]
    assert empty["observed"].startswith("no values in ")
    assert empty["threshold"] == "present in >= 100%, >= 1 examples"


def test_unseen_categorical_values_beyond_the_allowed_fraction(shop, delivery, capfd):
    rows = shop.rows()
    for row in rows[::10]:  # 10% of the trips paid with a payment type never seen
        row["payment_type"] = "Bitcoin"
    delivery(6, rows)
    out, summary, found = _halted(shop, capfd, 6)
    unseen = found[("payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")]
    assert unseen["observed"] in ("9% unseen", "10% unseen", "11% unseen")
    assert unseen["threshold"] == "<= 1% unseen"
    assert "Bitcoin" in unseen["description"]


def test_extreme_numeric_values(shop, delivery, capfd):
    rows = shop.rows()
    rows[0]["pickup_latitude"] = "0.0"  # "null island": a GPS fix that failed
    rows[1]["fare"] = "-45.0"
    delivery(7, rows)
    out, summary, found = _halted(shop, capfd, 7)
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
    delivery(8, rows)
    out, summary, found = _halted(shop, capfd, 8)
    label = found[("label", "COMPARATOR_L_INFTY_HIGH")]
    assert label["split"] == "all" and label["threshold"] == "<= 0.18"
    assert float(label["observed"]) == pytest.approx(after - before, abs=0.002)
    assert "tips > 0.2 * fare" in label["description"] and "previous span 2" in label["description"]
    # Every drift value is recorded, also those under threshold, for trending.
    drift = {r["feature"]: r for r in summary["drift"] if r["span"] == 8}
    assert drift["label"]["exceeded"] is True and drift["label"]["previous_span"] == 2
    assert drift["payment_type"]["exceeded"] is False and drift["payment_type"]["value"] == 0
    assert {"company", "fare", "trip_start_hour"} <= set(drift)
    assert "drift span 8 vs 2" in out


def test_unreadable_input_halts_before_the_pipeline_with_exit_4(shop, delivery):
    from pipeline.mlmd import open_store, run_ids

    runs_before = run_ids(open_store(shop.pipeline_dir / "metadata.sqlite"))
    delivery(9, shop.rows(), raw=True)
    process = run_cli("run", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "9", "--window", "1", timeout=120)
    assert process.returncode == 4, process.stdout + process.stderr
    assert "halted before the pipeline" in process.stdout
    assert "NOT_UTF8" in process.stdout and "re-encode the file as UTF-8" in process.stdout
    summary = read_summary(shop.pipeline_dir / "runs", last_run_id(shop.pipeline_dir / "runs"))
    assert summary["exit_code"] == 4 and summary["anomalies"][0]["kind"] == "NOT_UTF8"
    # TFX never started: no new run in ML Metadata.
    assert run_ids(open_store(shop.pipeline_dir / "metadata.sqlite")) == runs_before


def test_a_span_that_does_not_exist_and_a_config_pointing_nowhere_exit_2(shop, tmp_path):
    process = run_cli("run", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "99", timeout=120)
    assert process.returncode == 2
    assert "span 99 does not exist" in process.stderr and "spans available: 1-2" in process.stderr
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(shop.config.read_text().replace(str(shop.spans), str(tmp_path / "gone")))
    process = run_cli("run", "--config", str(nowhere), "--output-root", str(shop.out),
                      timeout=120)
    assert process.returncode == 2 and "data source not found" in process.stderr
    assert "Traceback" not in process.stderr


def test_schema_command_infers_from_a_span_and_never_changes_the_curated_schema(shop, delivery):
    curated = TAXI_CONFIG.parents[2] / "schemas" / "taxi" / "schema.pbtxt"
    before = _sha(curated)
    rows = shop.rows()
    for row in rows:
        row["surge"] = "1.5"
    for row in rows[::10]:
        row["payment_type"] = "Bitcoin"
    delivery(10, rows)
    process = run_cli("schema", "--config", str(shop.config), "--output-root", str(shop.out),
                      "--span", "10", timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr[-2000:]
    out = process.stdout
    assert "schema review: span 10" in out
    assert "surge" in out and "new column" in out
    assert "payment_type" in out and "Bitcoin" in out
    assert _sha(curated) == before
    folder = shop.pipeline_dir / "schema_review" / "span-10"
    diff = json.loads((folder / "schema.diff.json").read_text())
    aspects = {(d["feature"], d["aspect"]) for d in diff["differences"]}
    assert ("surge", "new column") in aspects and ("payment_type", "domain") in aspects
    assert (folder / "schema.inferred.pbtxt").read_text().count("feature {") >= 18
