"""End to end: the run report and the review notebooks on real pipeline runs.

Runs: the shared `taxi_runs` (`first` pushed, `again` cached, `strict` not blessed) and one run of
this module, `halted`: the runs' newest span delivered with 10% of `payment_type` values unknown
to the schema, which data validation stops (exit 4). Reports are opened in a real headless Chromium
(Debian's `chromium`); notebooks run headless through nbclient on the project's kernel, all
four at once (tests/fixtures/notebook.py).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from pipeline.cli import main as tfxpipe
from pipeline.config.sections import TFX_TAXI_SOURCE
from tests.fixtures.cli import PROJECT, last_run_id, write_config
from tests.fixtures.notebook import kernel_data_dir, start_notebook
from tests.fixtures.taxi import QUICK_SPAN, QUICK_WINDOW

pytestmark = pytest.mark.slow

SECTIONS = ["decision", "key-slices", "data", "anomalies", "drift", "statistics", "metrics",
            "naive", "slices", "baseline", "variants", "pushed", "components"]
SCREENSHOTS = PROJECT / "outputs" / "test-screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
INSTALL_CHROMIUM = ("Chromium is needed for the report's browser test and is not installed: "
                    "install it with 'sudo apt-get install -y chromium' (Debian/Ubuntu), or set "
                    "TFXPIPE_CHROMIUM to a Chromium binary")


NOTEBOOK_CASES = {  # test case -> (notebook, run)
    "data_validation-first": ("data_validation", "first"),
    "data_validation-halted": ("data_validation", "halted"),
    "model_analysis-first": ("model_analysis", "first"),
    "model_analysis-strict": ("model_analysis", "strict"),
}


class Halted:
    def __init__(self, root: Path, config: Path, process, run_id: str):
        self.out = root / "out"
        self.config = config
        self.process = process
        self.run_id = run_id


class Review:
    """The halted run and the executed notebooks, made together (see `review`)."""

    def __init__(self, halted: Halted, notebooks: dict[str, tuple[int, str, Path]]):
        self.halted = halted
        self.notebooks = notebooks


def _halted_config(taxi_runs, root: Path) -> Path:
    """The newest span of the taxi runs, delivered with 10% of payment_type values unknown to
    the schema, as the only span of a folder source (no previous span: no drift to measure)."""
    with open(taxi_runs.data_csv, newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("payment_type")
    for number, row in enumerate(rows[1:]):
        if number % 10 == 0:
            row[column] = "Bitcoin"
    bad = root / "spans" / "span-1" / "bad.csv"
    bad.parent.mkdir(parents=True)
    with open(bad, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return write_config(root / "halted.toml", taxi_runs.config, {
        f'source = "{TFX_TAXI_SOURCE}"': f'source = "{root / "spans"}"',
        '# pattern = "span-{SPAN}/*.csv"': 'pattern = "span-{SPAN}/*.csv"',
        f"window = {QUICK_WINDOW} ": "window = 1 ",
        f"span = {QUICK_SPAN} ": "span = 0 "})


@pytest.fixture(scope="module")
def review(taxi_runs, tmp_path_factory) -> Review:
    """Runs the halted pipeline while the notebooks review the taxi runs, then reviews it too.

    Overlapping them keeps this module's share of the suite's time down.
    """
    root = tmp_path_factory.mktemp("halted")
    config = _halted_config(taxi_runs, root)
    pipeline = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config),
         "--output-root", str(root / "out")], cwd=PROJECT, text=True,
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    folder = tmp_path_factory.mktemp("notebooks")
    spec_path = kernel_data_dir(folder)
    started = {case: start_notebook(notebook, taxi_runs.config, taxi_runs.out,
                                     taxi_runs.run_id(run), folder, case, spec_path)
               for case, (notebook, run) in NOTEBOOK_CASES.items() if run != "halted"}
    stdout, stderr = pipeline.communicate(timeout=900)
    process = subprocess.CompletedProcess(pipeline.args, pipeline.returncode, stdout, stderr)
    halted = Halted(root, config, process, last_run_id(root / "out" / "taxi" / "runs"))
    for case, (notebook, run) in NOTEBOOK_CASES.items():
        if run == "halted":
            started[case] = start_notebook(notebook, config, halted.out, halted.run_id, folder,
                                            case, spec_path)
    executed = {}
    for case, (notebook_process, target) in started.items():
        _, err = notebook_process.communicate(timeout=900)
        executed[case] = (notebook_process.returncode, err, target)
    return Review(halted, executed)


@pytest.fixture(scope="module")
def halted(review) -> Halted:
    return review.halted


@pytest.fixture(scope="module")
def notebooks(review) -> dict[str, tuple[int, str, Path]]:
    return review.notebooks


def _printed_report(stdout: str) -> Path:
    found = re.findall(r"^report: (.+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return Path(found[0])


def _reports(taxi_runs, halted) -> dict[str, Path]:
    paths = {name: taxi_runs.pipeline_dir / "runs" / taxi_runs.run_id(name) / "report.html"
             for name in ("first", "again", "strict")}
    paths["halted"] = halted.out / "taxi" / "runs" / halted.run_id / "report.html"
    return paths


def test_every_run_writes_its_report_and_prints_where(taxi_runs, halted):
    assert halted.process.returncode == 4, halted.process.stdout + halted.process.stderr
    for name, path in _reports(taxi_runs, halted).items():
        process = halted.process if name == "halted" else taxi_runs.process(name)
        assert _printed_report(process.stdout) == path, name
        assert path.is_file() and path.stat().st_size > 20_000, name


def test_reports_are_self_contained(taxi_runs, halted):
    for name, path in _reports(taxi_runs, halted).items():
        page = path.read_text()
        assert "<script" not in page.lower() and "@import" not in page, name
        assert not re.search(r"url\(\s*['\"]?(?!data:)", page), name
        sources = re.findall(r'\bsrc="([^"]*)"', page)
        assert sources and all(s.startswith("data:image/png;base64,") for s in sources), name
        links = re.findall(r'\bhref="([^"]*)"', page)
        assert all(link.startswith(("#", "data:")) for link in links), (name, links)
        assert "could not build this section" not in page, name
        for section in SECTIONS:
            assert f'<section id="{section}">' in page, (name, section)


def test_not_blessed_report_says_which_metric_failed_on_which_slice(taxi_runs):
    page = (taxi_runs.pipeline_dir / "runs" / taxi_runs.run_id("strict") / "report.html"
            ).read_text()
    assert '<span class="badge not-blessed">not blessed</span>' in page
    assert "not blessed: nothing was pushed, the served version stays" in page
    assert re.search(r"auc on overall: 0\.\d{4}, required &gt;= 0\.999", page)
    # The overall auc row carries its threshold and is marked failed.
    assert re.search(r'<tr class="fail"><td>auc</td><td class="num">0\.\d{4}</td>'
                     r"<td>&gt;= 0\.999</td><td>FAILED</td>", page)
    assert "Worst 15 slices" in page and "payment_type=Credit Card" in page
    assert "nothing pushed: the model is not blessed" in page
    # Its variants were judged but not pushed; its drift values (span 36 vs 35) are shown.
    assert page.count("not pushed: the dense model is not blessed") == 3
    assert re.search(r"<tr><td>label</td><td>infinity_norm</td><td class=\"num\">0\.\d{4}</td>"
                     r"<td class=\"num\">0\.1800</td><td>no</td><td class=\"num\">36</td>"
                     r"<td class=\"num\">35</td></tr>", page)


def test_pushed_report_shows_the_version_and_its_manifest(taxi_runs):
    first = taxi_runs.run_id("first")
    page = (taxi_runs.pipeline_dir / "runs" / first / "report.html").read_text()
    assert "blessed and pushed as version 1" in page
    assert re.search(r"Rows per split of the span this run processed: train \d+, eval \d+ \(total "
                     r"\d+\); of the window of spans it trained and evaluated on: train 1,\d{3}, "
                     r"eval \d+ \(total 2,231\)", page)
    assert "Version <b>1</b> at <code>" in page
    assert "<details><summary>manifest.json" in page
    assert f"&quot;pipeline_run_id&quot;: &quot;{first}&quot;" in page
    again = (taxi_runs.pipeline_dir / "runs" / taxi_runs.run_id("again") / "report.html"
             ).read_text()
    assert "blessed; version 1 unchanged (served from cache)" in again


def test_halted_report_shows_the_anomalies(halted):
    page = (halted.out / "taxi" / "runs" / halted.run_id / "report.html").read_text()
    assert "halted by data validation: nothing was trained or pushed" in page
    assert "2 anomalies against the schema in payment_type" in page
    assert page.count('<tr class="fail"><td>') >= 2
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in page and "Bitcoin" in page
    assert "not available for this run: the run was halted before training" in page


def test_report_command_rewrites_a_runs_report(taxi_runs, capsys, tmp_path):
    strict = taxi_runs.run_id("strict")
    out = tmp_path / "strict.html"
    code = tfxpipe(["report", "--config", str(taxi_runs.config), "--output-root",
                    str(taxi_runs.out), "--run", strict[:17], "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert _printed_report(printed.out) == out
    assert "auc on overall" in out.read_text()
    code = tfxpipe(["report", "--config", str(taxi_runs.config), "--output-root",
                    str(taxi_runs.out), "--run", "19990101"])
    printed = capsys.readouterr()
    assert code == 2
    assert printed.err.startswith("error: '19990101' is not a run of pipeline 'taxi' (latest runs:")


def _chromium() -> str:
    for candidate in (os.environ.get("TFXPIPE_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(INSTALL_CHROMIUM, pytrace=False)


def test_without_chromium_the_browser_test_fails_saying_how_to_install_it(monkeypatch):
    monkeypatch.delenv("TFXPIPE_CHROMIUM", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"sudo apt-get install -y chromium"):
        _chromium()


@pytest.mark.parametrize("name", ["strict", "halted"])
def test_report_loads_in_a_real_browser_with_nothing_from_outside(name, taxi_runs, halted,
                                                                  tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    path = _reports(taxi_runs, halted)[name]
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    requests, failed, errors = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=_chromium(), headless=True,
            args=CHROMIUM_FLAGS, env=env, viewport={"width": 1400, "height": 900})
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = page.goto(path.as_uri(), wait_until="load")
            assert response is not None and response.ok
            assert failed == [] and errors == []
            assert requests and all(urlparse(u).scheme in ("file", "data") for u in requests), \
                requests
            assert [u for u in requests if urlparse(u).scheme == "file"] == [path.as_uri()]
            for section in SECTIONS:
                assert page.locator(f"section#{section}").is_visible(), section
            images = page.evaluate("Array.from(document.images).map(i => i.complete && "
                                   "i.naturalWidth > 100)")
            assert images and all(images)
            decision = page.inner_text("#decision")
            expected = {"strict": "auc on overall", "halted": "anomalies against the schema"}
            assert expected[name] in decision
            shot = tmp_path / f"report-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stable = SCREENSHOTS / shot.name
    shutil.copyfile(shot, stable)
    with capsys.disabled():
        print(f"\n  report screenshot ({name} run): {stable}")


# ---------------------------------------------------------------------------------------------
# Notebooks


def _outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            for kind in ("text/plain", "text/html"):
                parts.append(str(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def _images(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells
               for output in cell.get("outputs", []))




def _executed(notebooks, case: str):
    import nbformat

    returncode, stderr, target = notebooks[case]
    assert returncode == 0, f"{case}: a cell failed (executed notebook: {target})\n{stderr}"
    return nbformat.read(target, as_version=4)


def test_data_validation_notebook_on_a_pushed_run(taxi_runs, notebooks):
    notebook = _executed(notebooks, "data_validation-first")
    text = _outputs_text(notebook)
    assert f"run {taxi_runs.run_id('first')} of pipeline 'taxi'" in text
    assert "blessed and pushed as version 1" in text
    assert "examples per split of span 36: {'train': " in text
    assert "examples per split of the window it trained on: {" in text
    assert "none: every split matches the schema" in text
    assert "jensen_shannon_divergence" in text and "infinity_norm" in text
    assert "split train: this run vs span 35, run " in text  # the previous span
    assert "official TFDV view (Facets) skipped: " in text
    assert "official TFDV schema and anomalies views shown above" in text
    assert _images(notebook) >= 2


def test_data_validation_notebook_on_a_halted_run(notebooks):
    notebook = _executed(notebooks, "data_validation-halted")
    text = _outputs_text(notebook)
    assert "halted by data validation: nothing was trained or pushed" in text
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in text and "Bitcoin" in text


def test_model_analysis_notebook_on_a_pushed_run(notebooks):
    notebook = _executed(notebooks, "model_analysis-first")
    text = _outputs_text(notebook)
    assert "blessed and pushed as version 1" in text
    assert "auc_precision_recall" in text and "payment_type=Credit Card" in text
    assert "baseline: none (no earlier blessed model)" in text
    assert "not available for this run: the Evaluator had no baseline" in text
    assert "tflite_int8" in text and "metric deltas against the dense model" in text
    assert "WARNING:tensorflow" not in text  # other libraries' notices stay out of the review
    assert "official TFMA view skipped: " in text
    assert _images(notebook) >= 3  # ROC/PR/calibration and slices


def test_model_analysis_notebook_highlights_the_failing_slice(notebooks):
    notebook = _executed(notebooks, "model_analysis-strict")
    text = _outputs_text(notebook)
    assert re.search(r"auc on overall: 0\.\d{4}, required >= 0\.999", text)
    assert "FAILED" in text and "background-color: #f8d0d0" in text  # overall row, red
    assert "background-color: #fde8c8" in text  # slices under the bound, orange
