"""`make bench-optimize`: the optimization stage's figures on the default taxi data.

Runs `tfxpipe run` with the default config (its window of 24 monthly spans, default
[optimization] settings) into a fresh output root, then reads the run's variants (sizes,
sparsity, per-slice AUC deltas, batch-1 latency) and writes a Markdown table to
outputs/bench/optimize.md, with the issue's figures and whether each is reached. `--skip-run`
re-renders the table from the last run there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from components.shared.artifacts import ModelVariants
from components.shared.tfma_metrics import slice_name
from pipeline.config import find_project_root, load_config
from pipeline.dag.nodes import VARIANT_EVALUATOR
from pipeline.records.mlmd import open_store, run_nodes

PROJECT = find_project_root(Path(__file__).resolve().parent)


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _load(output_root: Path, config_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary.json, variants.json) of the last run under `output_root`."""
    config = load_config(config_path, str(output_root))
    run_id = sorted(p.name for p in config.runs_dir.iterdir())[-1]
    summary = json.loads((config.runs_dir / run_id / "summary.json").read_text())
    nodes = run_nodes(open_store(config.metadata_path), config.pipeline.name, run_id)
    record = nodes.get(VARIANT_EVALUATOR)
    if record is None or not record.outputs.get("variants"):
        raise SystemExit(f"run {run_id} has no optimization stage (is [optimization] enabled?)")
    uri = record.outputs["variants"][0].uri
    return summary, json.loads(Path(uri, ModelVariants.FILE).read_text())


def render(summary: dict[str, Any], result: dict[str, Any], seconds: float | None) -> str:
    """The variants table and the figures table, in Markdown."""
    dense = result["dense"]
    lines = _header(summary, result, seconds)
    rows = {r["name"]: r for r in summary.get("variants") or []}
    figures = []
    for variant in result["variants"]:
        row = rows.get(variant["name"], {})
        lines.append(_variant_row(variant, row))
        figures += _figures_of(variant, dense, row)
    lines += ["", "| figure | measured | reached |", "|---|---:|---|"]
    for name, value, target, detail in figures:
        if target is None:  # an AUC loss: at most 0.01
            reached = value <= 0.01
            shown = f"{round(value, 4) + 0.0:+.4f} loss ({detail})"  # no "-0.0000"
        else:
            reached = value is not None and value >= target
            shown = f"{value:.2f}x ({detail})" if value else "-"
        lines.append(f"| {name} | {shown} | {'yes' if reached else 'NO'} |")
    int8 = next((v for v in result["variants"] if v["name"] == "tflite_int8"), None)
    if int8:
        lines.append(f"| batch-1 latency, median of {int8['latency_ms']['calls']} calls | int8 "
                     f"TFLite {int8['latency_ms']['p50']:.3f} ms; dense serving fn "
                     f"{dense['latency_ms']['p50']:.3f} ms | reported |")
    return "\n".join(lines) + "\n"


def _header(summary: dict[str, Any], result: dict[str, Any], seconds: float | None
            ) -> list[str]:
    """The machine, the run, the rule, and the table's dense row."""
    dense = result["dense"]
    dense_auc = (summary.get("metrics_overall") or {}).get("auc")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    machine = (f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
               f"{platform.processor() or platform.machine()}, Python "
               f"{platform.python_version()}; load average at the end {load}")
    rules = result["judgement"]
    limits = ", ".join(f"{r['name']} loss <= {r['tolerance']:g}" for r in rules["rules"])
    rows = summary.get("window_rows") or summary.get("rows") or {}  # what it trained on
    return [
        f"Measured {datetime.date.today().isoformat()} on {machine}.",
        f"Run {summary['run_id']}: {sum(rows.values())} rows (eval {rows.get('eval')}), "
        f"outcome {summary.get('outcome')}"
        + (f", {seconds:.0f} s wall time" if seconds else "") + ".",
        f"Judged: {limits} overall and on every slice of >= {rules['min_slice_examples']} examples "
        f"(ranking metrics: >= {rules.get('min_class_examples', 1)} of each class); latency: "
        f"batch 1, {rules['latency']['calls']} calls, median.",
        "",
        "| model | format | size | gzip | weights | weights gzip | sparsity | AUC overall "
        "| worst judged slice (AUC delta) | p50 latency | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
        f"| dense | saved_model | {_kb(dense['size_bytes'])} | {_kb(dense['gzip_bytes'])} "
        f"| {_kb(dense['weights_bytes'])} | {_kb(dense['weights_gzip_bytes'])} "
        f"| {dense['sparsity']:.2f} | {dense_auc:.4f} | - "
        f"| {dense['latency_ms']['p50']:.3f} ms (serving fn: raw tf.Example in); "
        f"{dense['latency_ms_model_only']['p50']:.3f} ms (Keras model only) | blessed, pushed |",
    ]


def _overall_auc(variant: dict[str, Any]) -> dict[str, Any] | None:
    return next((d for d in variant["deltas"] if d["metric"] == "auc" and not d["slice"]), None)


def _variant_row(variant: dict[str, Any], row: dict[str, Any]) -> str:
    judged = [d for d in variant["deltas"] if d["metric"] == "auc" and d["judged"]
              and d["slice"]]
    worst = min(judged, key=lambda d: d["delta"]) if judged else None
    where = (f"{slice_name(worst['slice'])} ({worst['delta']:+.4f}, "
             f"n={worst['example_count']})" if worst else "-")
    verdict = ("blessed, pushed" if row.get("pushed_path") else
               "blessed, not pushed" if variant["blessed"] else "NOT blessed")
    sparsity = "-" if variant["sparsity"] is None else f"{variant['sparsity']:.2f}"
    overall = _overall_auc(variant)
    return (f"| {variant['name']} | {variant['format']} | {_kb(variant['size_bytes'])} "
            f"| {_kb(variant['gzip_bytes'])} | {_kb(variant.get('weights_bytes'))} "
            f"| {_kb(variant.get('weights_gzip_bytes'))} | {sparsity} "
            f"| {overall['variant']:.4f} ({overall['delta']:+.4f}) | {where} "
            f"| {variant['latency_ms']['p50']:.3f} ms | {verdict} |")


def _figures_of(variant: dict[str, Any], dense: dict[str, Any], row: dict[str, Any]
                ) -> list[tuple[str, float | None, float | None, str]]:
    """(figure, measured, target, detail) of one variant; a target of None is an AUC loss."""
    figures = []
    if variant["name"] == "tflite_int8":
        figures.append(("int8 TFLite at least 4x smaller than the dense float model's weights",
                        _ratio(dense["weights_bytes"], variant["size_bytes"]), 4.0,
                        f"{_kb(dense['weights_bytes'])} of float32 weights / "
                        f"{_kb(variant['size_bytes'])} .tflite file; weights alone: "
                        f"{_ratio(dense['weights_bytes'], variant['weights_bytes']):.2f}x"))
    if variant["name"] == "pruned":
        weights_gzip = variant.get("weights_gzip_bytes")
        figure = (f"pruned at {variant['sparsity']:.0%} sparsity: gzip at least 3x smaller "
                  "than the dense model's gzip")
        figures.append((f"{figure}, weights", _ratio(dense["weights_gzip_bytes"], weights_gzip),
                        3.0, f"{_kb(dense['weights_gzip_bytes'])} / {_kb(weights_gzip)}"))
        figures.append((f"{figure}, whole SavedModel (the Transform graph and vocabularies,"
                        " the same in both, included)",
                        _ratio(dense["gzip_bytes"], variant["gzip_bytes"]), 3.0,
                        f"{_kb(dense['gzip_bytes'])} / {_kb(variant['gzip_bytes'])}"))
    if row.get("pushed_path"):
        delta = _overall_auc(variant)["delta"]
        figures.append((f"{variant['name']} pushed: AUC loss against dense at most 0.01 "
                        "overall", -delta, None, f"delta {round(delta, 4) + 0.0:+.4f}"))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pipeline/configs/taxi.toml")
    parser.add_argument("--output-root", default=str(PROJECT / "outputs" / "bench-optimize"))
    parser.add_argument("--skip-run", action="store_true",
                        help="render the table from the last run under --output-root")
    args = parser.parse_args(argv)
    output_root = Path(args.output_root)
    seconds = None
    if not args.skip_run:
        shutil.rmtree(output_root, ignore_errors=True)
        started = datetime.datetime.now()
        process = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "run", "--config", args.config,
             "--output-root", str(output_root)], cwd=PROJECT,
            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
        seconds = (datetime.datetime.now() - started).total_seconds()
        if process.returncode not in (0, 3):
            print(f"error: the run failed (exit {process.returncode})", file=sys.stderr)
            return 1
    summary, result = _load(output_root, args.config)
    table = render(summary, result, seconds)
    bench_dir = PROJECT / "outputs" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    (bench_dir / "optimize.md").write_text(table)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
