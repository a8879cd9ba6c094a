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

from pipeline.config import find_project_root, load_config

PROJECT = find_project_root(Path(__file__).resolve().parent)


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} KB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _load(output_root: Path, config_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary.json, variants.json) of the last run under `output_root`."""
    from pipeline.mlmd import open_store, run_nodes

    config = load_config(config_path, str(output_root))
    run_id = sorted(p.name for p in config.runs_dir.iterdir())[-1]
    summary = json.loads((config.runs_dir / run_id / "summary.json").read_text())
    nodes = run_nodes(open_store(config.metadata_path), config.pipeline.name, run_id)
    record = nodes.get("VariantEvaluator")
    if record is None or not record.outputs.get("variants"):
        raise SystemExit(f"run {run_id} has no optimization stage (is [optimization] enabled?)")
    uri = record.outputs["variants"][0].uri
    return summary, json.loads(Path(uri, "variants.json").read_text())


def _slice_name(key: dict[str, Any]) -> str:
    return " x ".join(f"{k}={v}" for k, v in key.items()) or "overall"


def render(summary: dict[str, Any], result: dict[str, Any], seconds: float | None) -> str:
    dense = result["dense"]
    dense_auc = (summary.get("metrics_overall") or {}).get("auc")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    machine = (f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
               f"{platform.processor() or platform.machine()}, Python "
               f"{platform.python_version()}; load average at the end {load}")
    rules = result["judgement"]
    limits = ", ".join(f"{r['name']} loss <= {r['tolerance']:g}" for r in rules["rules"])
    rows = summary.get("window_rows") or summary.get("rows") or {}  # what it trained on
    lines = [
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
    rows = {r["name"]: r for r in summary.get("variants") or []}
    figures = []
    for variant in result["variants"]:
        row = rows.get(variant["name"], {})
        auc = [d for d in variant["deltas"] if d["metric"] == "auc"]
        overall = next((d for d in auc if not d["slice"]), None)
        judged = [d for d in auc if d["judged"] and d["slice"]]
        worst = min(judged, key=lambda d: d["delta"]) if judged else None
        where = (f"{_slice_name(worst['slice'])} ({worst['delta']:+.4f}, "
                 f"n={worst['example_count']})" if worst else "-")
        verdict = ("blessed, pushed" if row.get("pushed_path") else
                   "blessed, not pushed" if variant["blessed"] else "NOT blessed")
        sparsity = "-" if variant["sparsity"] is None else f"{variant['sparsity']:.2f}"
        weights_gzip = variant.get("weights_gzip_bytes")
        lines.append(
            f"| {variant['name']} | {variant['format']} | {_kb(variant['size_bytes'])} "
            f"| {_kb(variant['gzip_bytes'])} | {_kb(variant.get('weights_bytes'))} "
            f"| {_kb(weights_gzip)} | {sparsity} "
            f"| {overall['variant']:.4f} ({overall['delta']:+.4f}) "
            f"| {where} "
            f"| {variant['latency_ms']['p50']:.3f} ms | {verdict} |")
        if variant["name"] == "tflite_int8":
            figures.append(("int8 TFLite at least 4x smaller than the dense float model's "
                            "weights", _ratio(dense["weights_bytes"], variant["size_bytes"]),
                            4.0, f"{_kb(dense['weights_bytes'])} of float32 weights / "
                            f"{_kb(variant['size_bytes'])} .tflite file; weights alone: "
                            f"{_ratio(dense['weights_bytes'], variant['weights_bytes']):.2f}x"))
        if variant["name"] == "pruned":
            figure = (f"pruned at {variant['sparsity']:.0%} sparsity: gzip at least 3x smaller "
                      "than the dense model's gzip")
            figures.append((f"{figure}, weights", _ratio(dense["weights_gzip_bytes"],
                                                         weights_gzip), 3.0,
                            f"{_kb(dense['weights_gzip_bytes'])} / {_kb(weights_gzip)}"))
            figures.append((f"{figure}, whole SavedModel (the Transform graph and vocabularies,"
                            " the same in both, included)",
                            _ratio(dense["gzip_bytes"], variant["gzip_bytes"]), 3.0,
                            f"{_kb(dense['gzip_bytes'])} / {_kb(variant['gzip_bytes'])}"))
        if row.get("pushed_path"):
            figures.append((f"{variant['name']} pushed: AUC loss against dense at most 0.01 "
                            "overall", -overall["delta"], None,
                            f"delta {round(overall['delta'], 4) + 0.0:+.4f}"))
    int8 = next((v for v in result["variants"] if v["name"] == "tflite_int8"), None)
    lines += ["", "| figure | measured | reached |", "|---|---:|---|"]
    for name, value, target, detail in figures:
        if target is None:  # an AUC loss: at most 0.01
            reached = value <= 0.01
            shown = f"{round(value, 4) + 0.0:+.4f} loss ({detail})"  # no "-0.0000"
        else:
            reached = value is not None and value >= target
            shown = f"{value:.2f}x ({detail})" if value else "-"
        lines.append(f"| {name} | {shown} | {'yes' if reached else 'NO'} |")
    if int8:
        lines.append(f"| batch-1 latency, median of {int8['latency_ms']['calls']} calls | int8 "
                     f"TFLite {int8['latency_ms']['p50']:.3f} ms; dense serving fn "
                     f"{dense['latency_ms']['p50']:.3f} ms | reported |")
    return "\n".join(lines) + "\n"


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
