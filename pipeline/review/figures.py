"""Matplotlib figures of statistics, distances and metrics, drawn offline.

Figures are made with matplotlib's object API (no pyplot, no global state, no GUI backend), so
the same code serves notebooks (shown as PNG) and the HTML report (inlined as data: URIs).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pandas as pd

from components.shared.quiet import quiet_tensorflow_warnings
from pipeline.review.statistics import (
    DatasetStats,
    bin_edges,
    features,
    is_numeric,
    masses,
    quantile_buckets,
    value_shares,
)
from pipeline.review.unavailable import NotAvailable

SPLIT_COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d"]
STATUS_COLOURS = {"FAILED": "#d62728", "below bound": "#ff9f1c", "one class": "#bbbbbb",
                  "small": "#dddddd", "passed": "#4c78a8", "": "#4c78a8"}


def new_figure(width: float, height: float):
    """A Figure with an Agg canvas (matplotlib's cache: see pipeline/review/__init__.py)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_uri(figure) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(figure)).decode("ascii")


def _short(text: str, width: int = 22) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _edge_labels(edges: list[float]) -> list[str]:
    """Labels of bins (-inf, e0], (e0, e1], ..., (en, inf), with as many digits as tell the
    edges apart (coordinates need more than counts)."""
    digits = 3
    while digits < 9 and len({f"{e:.{digits}g}" for e in edges}) < len(edges):
        digits += 1

    def fmt(v: float) -> str:
        return f"{v:.{digits}g}"
    labels = [f"≤{fmt(edges[0])}"] if edges else []
    labels += [f"{fmt(a)}–{fmt(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    return labels + ([f">{fmt(edges[-1])}"] if edges else [])


def distributions_figure(statistics: dict[str, DatasetStats], names: list[str] | None = None,
                         columns: int = 3, top: int = 8):
    """Small multiples, one per feature, every split overlaid.

    Numeric: share of each split's values in the first split's decile bins (the first split's
    bars are about 10% each; another split's bars show where it differs). Categorical: the most
    frequent values' shares.
    """
    splits = list(statistics)
    if not splits:
        return NotAvailable("this run computed no statistics")
    per_split = {s: features(d) for s, d in statistics.items()}
    base = per_split[splits[0]]
    names = [n for n in (names or sorted(base)) if n in base and _drawable(base[n])]
    if not names:
        return NotAvailable("no feature with a distribution to draw")
    rows = (len(names) + columns - 1) // columns
    figure = new_figure(4.2 * columns, 2.6 * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    width = 0.8 / len(splits)
    for ax, name in zip(axes, names, strict=False):
        feature = base[name]
        if is_numeric(feature):
            edges = bin_edges(quantile_buckets(feature))
            labels = _edge_labels(edges)
            series = {s: masses(quantile_buckets(per_split[s][name]), edges)
                      if name in per_split[s] else [0.0] * len(labels) for s in splits}
            keep = [i for i in range(len(labels)) if any(series[s][i] > 0 for s in splits)]
            labels = [labels[i] for i in keep]
            series = {s: [v[i] for i in keep] for s, v in series.items()}
        else:
            shares = {s: value_shares(per_split[s][name]) if name in per_split[s] else {}
                      for s in splits}
            labels = sorted(shares[splits[0]], key=lambda k: -shares[splits[0]][k])[:top]
            series = {s: [shares[s].get(k, 0.0) for k in labels] for s in splits}
        for i, split in enumerate(splits):
            positions = [x + (i - (len(splits) - 1) / 2) * width for x in range(len(labels))]
            ax.bar(positions, [100 * v for v in series[split]], width=width, label=split,
                   color=SPLIT_COLOURS[i % len(SPLIT_COLOURS)])
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([_short(label, 20) for label in labels], rotation=60, ha="right",
                           fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel("% of values", fontsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    return figure


def _drawable(feature) -> bool:
    if is_numeric(feature):
        return bool(quantile_buckets(feature))
    return feature.WhichOneof("stats") == "string_stats" and bool(value_shares(feature))


def _distance_labels(table: pd.DataFrame) -> list[str]:
    """Each row's feature, with its comparator: "fare (JSD)", "company (L-inf)", "label (mean
    shift)"."""
    short = {"infinity_norm": "L-inf", "jensen_shannon_divergence": "JSD",
             "mean_shift": "mean shift"}
    return [f"{f} ({short.get(c, c)})"
            for f, c in zip(table["feature"], table["comparator"], strict=True)]


def distances_figure(table: pd.DataFrame, title: str = ""):
    """Horizontal bars of each feature's distance, its threshold marked, exceeded ones red.

    A table of several spans (a backfill's drift) is drawn as a grid instead: see
    `distances_by_span_figure`.
    """
    if isinstance(table, NotAvailable):
        return table
    table = table[table["value"].notna()]
    if table.empty:
        return NotAvailable("no distance to draw")
    if "span" in table and table["span"].nunique() > 1:
        return distances_by_span_figure(table, title)
    table = table.iloc[::-1]
    figure = new_figure(7.5, 0.9 + 0.26 * len(table))
    ax = figure.subplots()
    colours = ["#d62728" if e else "#4c78a8" for e in table["exceeded"]]
    labels = _distance_labels(table)
    ax.barh(range(len(table)), table["value"], color=colours)
    ax.scatter(table["threshold"], range(len(table)), marker="|", s=200, color="black",
               label="threshold", zorder=3)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("distance (L-infinity or Jensen-Shannon)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return figure


def distances_by_span_figure(table: pd.DataFrame, title: str = ""):
    """One row per feature, one column per span: each cell its distance as a share of its
    threshold (1 = at the threshold), exceeded cells crossed in red.

    One bar per feature and span (23 backfilled spans of 14 features: 322 bars) made a figure
    8,500 pixels tall, a second to draw and too long to read.
    """
    frame = table.assign(
        label=_distance_labels(table),
        share=[v / t if t else v for v, t in zip(table["value"], table["threshold"],
                                                   strict=True)])
    shares = frame.pivot_table(index="label", columns="span", values="share", aggfunc="max")
    exceeded = frame.pivot_table(index="label", columns="span", values="exceeded",
                                 aggfunc="max").reindex_like(shares).fillna(False)
    figure = new_figure(7.5, 1.4 + 0.26 * len(shares))
    ax = figure.subplots()
    image = ax.imshow(shares.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0,
                      vmax=max(1.0, float(shares.max().max())))
    rows, columns = exceeded.to_numpy(dtype=bool).nonzero()
    if len(rows):
        ax.scatter(columns, rows, marker="x", s=40, color="#d62728", label="above threshold")
        ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 1.12))
    ax.set_yticks(range(len(shares)))
    ax.set_yticklabels(shares.index, fontsize=8)
    ax.set_xticks(range(len(shares.columns)))
    ax.set_xticklabels([str(span) for span in shares.columns], fontsize=7)
    ax.set_xlabel("span (each against the span before it)", fontsize=8)
    figure.colorbar(image, ax=ax, label="distance / threshold", shrink=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    return figure


def _why_skipped(status: pd.Series) -> str:
    """Why these slices are not drawn, in the task's words (classes only where a slice had
    one)."""
    small, one_class = int((status == "small").sum()), int((status == "one class").sum())
    reasons = [f"{small} with too few examples"] if small else []
    reasons += [f"{one_class} holding a single class"] if one_class else []
    return "; ".join(reasons) or "no value of the metric"


def slices_figure(table: pd.DataFrame, metric: str, thresholds: list[Any] | None = None,
                  title: str = "", limit: int = 25):
    """The metric per slice as horizontal bars coloured by status, with n and absolute bounds.

    `table` is `Evaluation.slice_table(...)` (worst first); at most `limit` slices are drawn.
    """
    if isinstance(table, NotAvailable):
        return table
    judged = table[table[metric].notna() & ~table["status"].isin(["one class", "small"])]
    skipped = table.loc[~table.index.isin(judged.index), "status"]
    if judged.empty:
        return NotAvailable(f"no slice here can be judged ({len(table)} slices: "
                            f"{_why_skipped(skipped)})")
    table = judged.head(limit).iloc[::-1]
    figure = new_figure(7.5, 1.0 + 0.24 * len(table))
    ax = figure.subplots()
    colours = [STATUS_COLOURS.get(s, "#4c78a8") for s in table["status"]]
    ax.barh(range(len(table)), table[metric], color=colours)
    counts = table["example_count"] if "example_count" in table else [None] * len(table)
    # The title names the slicing columns: a label shows the values only ("Credit Card x 14").
    values = [" x ".join(part.split("=", 1)[-1] for part in s.split(" x ")) for s in table["slice"]]
    labels = [f"{_short(v, 40)}  (n={int(n) if n == n and n is not None else '?'})"
              for v, n in zip(values, counts, strict=True)]
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels(labels, fontsize=7)
    for threshold in thresholds or []:
        for bound in (threshold.lower, threshold.upper):
            if bound is not None and threshold.metric == metric:
                scope = ("all slices" if threshold.spec is None
                         else " x ".join(threshold.spec) or "overall")
                ax.axvline(bound, color="black", linestyle="--", linewidth=1,
                           label=f"bound {bound:g} ({scope})")
    ax.set_xlabel(metric, fontsize=8)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right")
    notes = []
    if len(skipped):
        notes.append(f"{len(skipped)} slices not drawn: {_why_skipped(skipped)}")
    if len(judged) > limit:
        notes.append(f"worst {limit} of {len(judged)} drawn")
    ax.set_title((title or f"{metric} per slice") + ("\n(" + "; ".join(notes) + ")" if notes
                                                     else ""), fontsize=9)
    return figure


def curves_figure(evaluation_uri: str):
    """ROC, precision-recall and calibration of the overall slice, from TFMA's plots."""
    import tensorflow_model_analysis as tfma

    overall = None
    with quiet_tensorflow_warnings():
        records = list(tfma.load_plots(evaluation_uri))
    for record in records:
        if not record.slice_key.single_slice_keys:
            for kv in record.plot_keys_and_values:
                if kv.key.model_name != "baseline":
                    overall = kv.value
    if overall is None or not overall.HasField("confusion_matrix_at_thresholds"):
        return NotAvailable("the evaluation has no confusion-matrix or calibration plots "
                            "(binary classification only)")
    matrices = overall.confusion_matrix_at_thresholds.matrices
    fpr = [m.false_positive_rate for m in matrices]
    tpr = [m.recall for m in matrices]
    points = [(m.recall, m.precision) for m in matrices
              if m.true_positives + m.false_positives > 0]
    figure = new_figure(12, 3.6)
    roc, pr, calibration = figure.subplots(1, 3)
    roc.plot(fpr, tpr, color=SPLIT_COLOURS[0])
    roc.plot([0, 1], [0, 1], color="#999999", linestyle=":")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr.plot([p[0] for p in points], [p[1] for p in points], color=SPLIT_COLOURS[0])
    pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    if overall.HasField("calibration_histogram_buckets"):
        buckets = overall.calibration_histogram_buckets.buckets
        grouped: dict[int, list[float]] = {}
        for b in buckets:
            n = b.num_weighted_examples.value
            if n <= 0:
                continue
            group = min(9, max(0, int(b.lower_threshold_inclusive * 10)))
            acc = grouped.setdefault(group, [0.0, 0.0, 0.0])
            acc[0] += n
            acc[1] += b.total_weighted_refined_prediction.value
            acc[2] += b.total_weighted_label.value
        # Bins of fewer than 10 examples say nothing about calibration: left out.
        kept = [acc for _, acc in sorted(grouped.items()) if acc[0] >= 10]
        xs = [acc[1] / acc[0] for acc in kept]
        ys = [acc[2] / acc[0] for acc in kept]
        calibration.plot([0, 1], [0, 1], color="#999999", linestyle=":")
        calibration.plot(xs, ys, marker="o", color=SPLIT_COLOURS[1])
        calibration.set(xlabel="mean prediction", ylabel="positive rate",
                        title="calibration (10 bins of >= 10 examples)", xlim=(0, 1),
                        ylim=(0, 1))
    else:
        calibration.set_visible(False)
    return figure
