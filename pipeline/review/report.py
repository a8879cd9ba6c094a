"""One self-contained HTML page per run: `outputs/<pipeline>/runs/<run id>/report.html`.

Self-contained means it opens anywhere, offline: CSS inline, figures inlined as data: URIs, no
script, no link to anything outside the file. It says what the run decided and why (the
blessing, which metric failed on which slice, by how much), and shows the data behind it: input
files and spans, anomalies, drift, statistics, the tuning trials, metrics per slice next to
their thresholds, the comparison with the baseline, optimized variants, and the pushed version
with its manifest.
"""

from __future__ import annotations

import datetime
import html
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from components.shared.files import write_atomically
from pipeline.review import contract, figures
from pipeline.review.figures import data_uri
from pipeline.review.metrics import load_evaluation
from pipeline.review.runs import ReviewRun, statistics_history
from pipeline.review.statistics import categorical_table, compare, numeric_table, split_order
from pipeline.review.unavailable import NotAvailable

REPORT_FILE = "report.html"
WORST_SLICES = 15

_CSS = """
:root { --fail: #c62828; --warn: #e07b00; --ok: #2e7d32; --muted: #666; --line: #ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 0; color: #222; background: #fafafa; }
header { background: #263238; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px; font-size: 21px; }
header .meta { color: #cfd8dc; font-size: 12.5px; }
header .meta code { color: #fff; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 28px;
      position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 14px; color: #1565c0; text-decoration: none; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px;
          padding: 12px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 10px; }
h3 { font-size: 14.5px; margin: 16px 0 6px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
         font-size: 13px; margin-left: 8px; vertical-align: middle; }
.badge.pushed { background: var(--ok); color: #fff; }
.badge.not-blessed, .badge.error { background: var(--fail); color: #fff; }
.badge.halted { background: var(--warn); color: #fff; }
.badge.unknown { background: #777; color: #fff; }
.decision { font-size: 16px; font-weight: 600; margin: 4px 0; }
.decision.fail { color: var(--fail); } .decision.ok { color: var(--ok); }
.decision.warn { color: var(--warn); }
ul.reasons { margin: 4px 0 8px 18px; padding: 0; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td { background: #fde0e0; } tr.warn td { background: #fff0d9; }
tr.muted td { color: #888; }
.not-available, .empty, .note { color: var(--muted); font-style: italic; }
.error { color: var(--fail); }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 6px 0; }
details { margin: 6px 0; } summary { cursor: pointer; color: #1565c0; }
pre { background: #f5f5f5; padding: 10px; overflow: auto; font-size: 12px; max-height: 600px; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; }
"""

_BADGE = {"pushed": "pushed", "not blessed": "not-blessed", "halted by data validation": "halted",
          "error": "error"}
_ROW_CLASS = {"FAILED": "fail", "below bound": "warn", "one class": "muted", "small": "muted"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any, column: str) -> tuple[str, bool]:
    """(text, is a number) of one table cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}" if column in ("bytes", "size_bytes", "gzip_bytes") else str(value), True
    if isinstance(value, float):
        if column in ("example_count", "count", "rows") or column.endswith("bytes"):
            return f"{value:,.0f}", True
        if column.startswith(("missing_%", "zeros_%")) or column == "seconds":
            return f"{value:.1f}", True
        return (f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"), True
    return str(value), False


def html_table(frame: pd.DataFrame | NotAvailable, max_rows: int | None = None,
               row_class: str = "") -> str:
    """A DataFrame as an HTML table; rows coloured by `status` (or `exceeded`, or row_class)."""
    if isinstance(frame, NotAvailable):
        return f'<p class="not-available">{_e(frame.text)}</p>'
    if frame.empty:
        return f'<p class="empty">{_e(frame.attrs.get("empty", "nothing"))}</p>'
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for record in shown.to_dict("records"):
        css = _ROW_CLASS.get(record.get("status"), row_class)
        if record.get("exceeded") is True:
            css = "fail"
        cells = []
        for column, value in record.items():
            text, numeric = _cell(value, column)
            cells.append(f'<td class="num">{_e(text)}</td>' if numeric else f"<td>{_e(text)}</td>")
        body.append(f'<tr class="{css}">' + "".join(cells) + "</tr>" if css
                    else "<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f'<p class="note">{len(frame) - max_rows} more rows not shown</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _figure(figure: Any, alt: str) -> str:
    if isinstance(figure, NotAvailable):
        return f'<p class="not-available">{_e(figure.text)}</p>'
    return f'<img alt="{_e(alt)}" src="{data_uri(figure)}">'


def _section(anchor: str, title: str, build: Callable[[], str]) -> str:
    try:
        body = build()
    except Exception as error:  # one broken part must not cost the whole report
        text = str(error).strip().splitlines()
        body = (f'<p class="error">could not build this section: {_e(type(error).__name__)}: '
                f'{_e(text[-1] if text else "")}</p>')
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


# ---------------------------------------------------------------------------------------------
# Sections


def _decision(run: ReviewRun) -> str:
    decided = contract.decision(run.summary)
    outcome = decided["outcome"]
    tone = {"pushed": "ok", "not blessed": "fail", "error": "fail"}.get(outcome, "warn")
    parts = [f'<p class="decision {tone}">{_e(decided["headline"])}</p>']
    if decided["reasons"]:
        parts.append('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>"
                                                       for r in decided["reasons"]) + "</ul>")
    if run.summary.get("failed_thresholds"):
        parts.append("<h3>Failed thresholds</h3>"
                     + html_table(contract.failed_thresholds_table(run.summary)))
    if "blessed" in run.summary:
        parts.append(f"<p>Baseline: {_e(run.baseline())}</p>")
    return "".join(parts)


def _key_slices(run: ReviewRun) -> str:
    return ("<p>The slices that matter most (<code>evaluation.key_slices</code>): the model's "
            "figure, each naive baseline's on the same rows, and the thresholds (they bind "
            "the overall slice).</p>" + html_table(contract.key_slices_table(run.summary)))


def _naive(run: ReviewRun, evaluation) -> str:
    baselines = run.summary.get("baselines")
    if not baselines:
        return html_table(contract.naive_baselines_table(run.summary))
    lift = baselines.get("lift")
    verdict = ("not judged (the metric is undefined)" if lift is None else
               f"lift {lift:+.4f} over {baselines['best_baseline']}, required &gt; "
               f"{_e(contract.required_words(baselines))}: "
               + ("passed" if baselines.get("passed") else "<b>FAILED</b>"))
    parts = [f"<p>Fitted on the train split, evaluated by TFMA on the eval split and slices "
             f"the model was. Gated metric: {_e(baselines['metric'])}, overall: model "
             f"{_e(_number(baselines.get('model_value')))}; {verdict}.</p>",
             html_table(contract.naive_baselines_table(run.summary))]
    if not isinstance(evaluation, NotAvailable):
        parts += [f"<h3>{_e(baselines['metric'])} per slice: the model and its naive "
                  "baselines</h3>", html_table(evaluation.naive_table())]
    return "".join(parts)


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _data(run: ReviewRun) -> str:
    def split_rows(rows: dict[str, int]) -> str:
        ordered = sorted(rows, key=split_order)
        return (", ".join(f"{_e(k)} {rows[k]:,}" for k in ordered)
                + f" (total {sum(rows.values()):,})")

    parts = ["<h3>Input files</h3>", html_table(contract.data_files_table(run.summary))]
    rows, window = run.summary.get("rows"), run.summary.get("window_rows")
    if rows and window:
        parts.append(f"<p>Rows per split of the span this run processed: {split_rows(rows)}; "
                     f"of the window of spans it trained and evaluated on: "
                     f"{split_rows(window)}</p>")
    elif rows:
        parts.append(f"<p>Rows per split: {split_rows(rows)}</p>")
    parts += ["<h3>Spans</h3>", html_table(contract.spans_table(run.summary)),
              "<h3>Statistics computed so far (one per span or change of data)</h3>",
              html_table(statistics_history(run))]
    return "".join(parts)


def _anomalies(run: ReviewRun) -> str:
    return html_table(contract.anomalies_table(run.summary), row_class="fail")


def _drift(run: ReviewRun) -> str:
    drift = contract.drift_table(run.summary)
    parts = ["<h3>Drift against the previous span (recorded by the pipeline)</h3>",
             html_table(drift)]
    if not isinstance(drift, NotAvailable):
        parts.append(_figure(figures.distances_figure(drift, "drift per feature"), "drift"))
    statistics = run.statistics
    if "train" in statistics and "eval" in statistics:
        table = compare(statistics["train"], statistics["eval"], schema=run.schema)
        parts += ["<h3>Train vs eval (computed for this report)</h3>",
                  '<p class="note">L-infinity distance for string features, Jensen-Shannon '
                  "divergence on the train split's deciles for numeric ones; thresholds from the "
                  "schema's drift comparators, else 0.1 (shown, not acted upon).</p>",
                  html_table(table),
                  _figure(figures.distances_figure(table, "eval vs train"), "train vs eval")]
    previous = run.previous_statistics()
    parts.append("<h3>This run's data vs the previous data</h3>")
    if isinstance(previous, NotAvailable):
        parts.append(html_table(previous))
    else:
        split = "train" if "train" in statistics and "train" in previous.statistics else None
        split = split or next(iter(set(statistics) & set(previous.statistics)), None)
        if split is None:
            parts.append(html_table(NotAvailable("no split in common with the previous data")))
        else:
            table = compare(previous.statistics[split], statistics[split], "previous", "this",
                            run.schema)
            parts += [f"<p>Split {_e(split)}, compared with {_e(previous.label)}.</p>",
                      html_table(table)]
    return "".join(parts)


def _statistics(run: ReviewRun) -> str:
    statistics = run.statistics
    if not statistics:
        return html_table(NotAvailable("StatisticsGen did not run"))
    names = [f for f in run.config.all_features if any(
        f in {".".join(x.path.step) for x in d.features} for d in statistics.values())]
    return "".join([
        "<h3>Numeric features</h3>", html_table(numeric_table(statistics)),
        "<h3>Categorical features</h3>", html_table(categorical_table(statistics)),
        "<h3>Distributions of the model's features, per split</h3>",
        _figure(figures.distributions_figure(statistics, names or None), "distributions"),
    ])


def _metrics(run: ReviewRun, evaluation) -> str:
    if isinstance(evaluation, NotAvailable):
        return html_table(evaluation)
    parts = ["<h3>Overall, with thresholds</h3>", html_table(evaluation.overall_table())]
    if run.config.label.kind == "binary":
        parts.append(_figure(figures.curves_figure(evaluation.uri), "ROC, PR and calibration"))
    return "".join(parts)


def _slices(run: ReviewRun, evaluation) -> str:
    if isinstance(evaluation, NotAvailable):
        return html_table(evaluation)
    key = evaluation.key
    table = evaluation.slice_table()
    sliced = table[table["spec"] != "overall"]
    columns = [c for c in ["slice", "status", key, "example_count", "mean_label"]
               if c in sliced.columns]
    parts = [f"<p>Ranked by {_e(key)} ({'higher' if evaluation.higher_is_better else 'lower'} "
             "is better), worst first. <b>FAILED</b>: a threshold the Evaluator applied; "
             "<b>below bound</b>: under a bound that gates only the overall slice (not "
             "gating, shown for review); <b>one class</b>: every example has the same label, "
             f"{_e(key)} is undefined; <b>small</b>: fewer than "
             f"{run.config.evaluation.min_slice_examples} examples, not judged.</p>",
             f"<h3>Worst {WORST_SLICES} slices</h3>",
             html_table(sliced[columns].reset_index(drop=True), WORST_SLICES)]
    for spec in evaluation.slice_specs():
        spec_table = evaluation.slice_table(spec)
        title = f"{key} per slice of {' x '.join(spec)}"
        parts.append(_figure(figures.slices_figure(spec_table, key, evaluation.thresholds,
                                                   title), title))
    parts.append("<details><summary>Every slice, every metric</summary>"
                 + html_table(table) + "</details>")
    return "".join(parts)


def _baseline(run: ReviewRun, evaluation) -> str:
    if isinstance(evaluation, NotAvailable):
        return html_table(evaluation)
    return (f"<p>Baseline: {_e(run.baseline())}</p>"
            + html_table(evaluation.baseline_table()))


def _tuning(run: ReviewRun) -> str:
    tuning = run.summary.get("tuning")
    if not tuning:
        return html_table(contract.tuning_table(run.summary))
    sliced = tuning.get("objective_slice")
    on = f" on the eval rows of {contract.slice_label(sliced)}" if sliced else ""
    cached = " Cached: the same data and search space as an earlier run, not tuned again." \
        if tuning.get("state") == "CACHED" else ""
    return (f"<p>{_e(tuning['algorithm'])} search, objective <b>{_e(tuning['objective'])}</b>"
            f"{_e(on)} ({'higher' if tuning['higher_is_better'] else 'lower'} is better). "
            f"Rank 1 is the best trial: the Trainer trained with its values.{_e(cached)}</p>"
            + html_table(contract.tuning_table(run.summary)))


def _variants(run: ReviewRun) -> str:
    return ("<h3>Variants</h3>" + html_table(contract.variants_table(run.summary))
            + "<h3>Metric deltas against the dense model</h3>"
            + html_table(contract.variant_deltas_table(run.summary)))


def _pushed(run: ReviewRun) -> str:
    summary = run.summary
    if not summary.get("pushed"):
        reason = ("the model is not blessed" if summary.get("blessed") is False
                  else "the run did not reach the pusher" if "pushed" not in summary
                  else "nothing was pushed")
        return f'<p class="not-available">nothing pushed: {_e(reason)}</p>'
    path = Path(str(summary.get("pushed_path")))
    note = (" (unchanged: served from cache)" if summary.get("pusher_cached")
            else " (already the served version)" if summary.get("already_served") else "")
    parts = [f"<p>Version <b>{_e(summary.get('pushed_version'))}</b> at "
             f"<code>{_e(path)}</code>{_e(note)}</p>"]
    manifest = path / "manifest.json"
    if manifest.is_file():
        text = json.dumps(json.loads(manifest.read_text()), indent=2, sort_keys=True)
        parts.append(f"<details><summary>manifest.json ({len(text):,} characters)</summary>"
                     f"<pre>{_e(text)}</pre></details>")
    else:
        parts.append('<p class="not-available">manifest.json not found (the version was '
                     "removed?)</p>")
    return "".join(parts)


def _components(run: ReviewRun) -> str:
    frame = pd.DataFrame(run.summary.get("components") or [],
                         columns=["node", "state", "seconds"])
    frame.attrs["empty"] = "no component ran"
    parts = [html_table(frame)]
    if run.summary.get("log"):
        parts.append(f"<p>Log: <code>{_e(run.summary['log'])}</code></p>")
    return "".join(parts)


_NAV = [("decision", "Decision"), ("key-slices", "Key slices"), ("data", "Data"),
        ("anomalies", "Anomalies"), ("drift", "Drift"), ("statistics", "Statistics"),
        ("tuning", "Tuning"), ("metrics", "Metrics"), ("naive", "Naive baselines"),
        ("slices", "Slices"), ("baseline", "Baseline"), ("variants", "Variants"),
        ("pushed", "Pushed version"), ("components", "Components")]


def build_report(run: ReviewRun) -> str:
    try:
        evaluation = load_evaluation(run)
    except Exception as error:  # shown in the model sections
        evaluation = NotAvailable(f"the evaluation could not be read ({type(error).__name__}: "
                                  f"{error})")
    outcome = run.outcome
    title = f"Run {run.run_id} of {run.config.pipeline.name}"
    sections = [
        _section("decision", "Decision", lambda: _decision(run)),
        _section("key-slices", "Key slices", lambda: _key_slices(run)),
        _section("data", "Data", lambda: _data(run)),
        _section("anomalies", "Anomalies", lambda: _anomalies(run)),
        _section("drift", "Drift and skew", lambda: _drift(run)),
        _section("statistics", "Statistics", lambda: _statistics(run)),
        _section("tuning", "Hyperparameter tuning", lambda: _tuning(run)),
        _section("metrics", "Metrics", lambda: _metrics(run, evaluation)),
        _section("naive", "Naive baselines", lambda: _naive(run, evaluation)),
        _section("slices", "Metrics per slice", lambda: _slices(run, evaluation)),
        _section("baseline", "Comparison with the baseline", lambda: _baseline(run, evaluation)),
        _section("variants", "Optimized variants", lambda: _variants(run)),
        _section("pushed", "Pushed version", lambda: _pushed(run)),
        _section("components", "Components", lambda: _components(run)),
    ]
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    exit_code = run.summary.get("exit_code")
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(title)}<span class="badge {_BADGE.get(outcome, "unknown")}">'
        f'{_e(outcome)}</span></h1><div class="meta">started {_e(run.started)}'
        + (f" · exit code {_e(exit_code)}" if exit_code is not None else "")
        + f" · config <code>{_e(run.config.config_path)}</code>"
        f" · output root <code>{_e(run.config.output_root)}</code></div></header>",
        "<nav>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in _NAV) + "</nav>",
        "<main>", *sections, "</main>",
        f"<footer>Written by <code>tfxpipe report</code> at {_e(generated)}. "
        "Self-contained: no script, no external resource.</footer>",
        "</body></html>",
    ]) + "\n"


def write_report(run: ReviewRun, path: Path | None = None) -> Path:
    """Writes the run's report (by default into its runs folder); returns its path."""
    return write_atomically(path or run.run_dir / REPORT_FILE, build_report(run))
