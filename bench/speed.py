"""`make bench`: our pipeline's cold and warm runs against the stock TFX taxi example.

On the default taxi data, in one session: a cold run of `tfxpipe run` (fresh output root) and a
warm rerun (everything cached), with where the cold run's time went; a like-for-like run (the
stock example's work: all its rows as one span, no optimization stage); the same small run (a
window of two spans) in both of Beam's DirectRunner modes, to justify the default; and the stock
`taxi_pipeline_native_keras.py` that ships inside the installed tfx package, run from there with
its own default settings. The like-for-like run and the stock example, which the goal compares,
run three times each (`--repeat`), and the table compares their medians. Wall time and peak
memory (summed RSS of the process tree, sampled) of each are written to outputs/bench/bench.json
and as a Markdown table to outputs/bench/bench.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from pipeline.config import find_project_root, load_config
from pipeline.dag.nodes import MODEL_STAGES, OPTIMIZATION_STAGES
from pipeline.inputs.sources import tfx_taxi_csv

PROJECT = find_project_root(Path(__file__).resolve().parent)
STOCK_MODULE = "tfx.examples.chicago_taxi_pipeline.taxi_pipeline_native_keras"
# Where a run's time goes: the stages the stock example also has (MODEL_STAGES), and the
# optimization stage it has not. Every other node (ingestion, statistics, gates, resolvers)
# counts as data.


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    exit_code: int
    cpu_seconds: float = 0.0  # user + system time of the process tree (processes waited for)


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # the process ended between listing and reading
            pass
    return total


def _trees_cpu(processes: list[psutil.Process]) -> float:
    """User and system seconds of the processes and their children, so far."""
    total = 0.0
    for process in processes:
        for proc in [process, *process.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                pass
    return total


def measure(name: str, command: list[str], env: dict[str, str], log: Path,
            also: tuple[int, ...] = ()) -> Measurement:
    """Runs `command`, sampling the summed RSS of its process tree every 0.2 s; the trees of
    the processes `also` (a cluster's, which do the command's work) count in its memory and CPU
    time too."""
    started = time.monotonic()
    with open(log, "w") as out:
        child = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=out, stderr=out)
        proc = psutil.Process(child.pid)
        others = [psutil.Process(number) for number in also]
        cpu_before = _trees_cpu(others)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(proc) + sum(map(_tree_rss, others)))
                except psutil.Error:
                    return
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = code = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    result = Measurement(name, time.monotonic() - started, peak / 2**20, code,
                         usage.ru_utime + usage.ru_stime + _trees_cpu(others) - cpu_before)
    print(f"{name:<44} {result.seconds:7.1f} s  {result.peak_mb:7.0f} MB  exit {code}",
          flush=True)
    return result


def stock_home(workdir: Path) -> Path:
    """A throwaway HOME laid out as the stock example expects ($HOME/taxi/...), from the package."""
    import tfx

    home = workdir / "stock_home"
    data = home / "taxi" / "data" / "simple"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy(tfx_taxi_csv(), data / "data.csv")
    utils = Path(tfx.__file__).parent / "examples" / "chicago_taxi_pipeline"
    shutil.copy(utils / "taxi_utils_native_keras.py", home / "taxi")
    return home


PARTS = ("cold", "like", "modes", "stock")
LIKE_NAME = "ours, like for like: all 15,002 rows as one span, no optimization (in_memory)"
STOCK_NAME = "stock TFX taxi_pipeline_native_keras (defaults)"
# The two runs the goal compares are each run this many times (their median is compared): the
# same run varies by a few seconds between tries on this machine.
REPEAT = 3


def like_for_like_config(config_path: str, target: Path) -> Path:
    """The config at `config_path` changed to do the stock example's work, written to `target`.

    - the packaged CSV file as the source, all of it one span (the stock example reads it
      whole), trained on that span alone: no backfill;
    - no optimization stage (the stock example has none);
    - train/eval skew measured and reported but not judged: on the whole file one trip of
      72,120 s squeezes TFDV's equal-width histogram of trip_seconds, and a random split
      measures 0.456 against the curated schema's 0.3 (see schemas/taxi/schema.pbtxt).
    """
    changes = [
        (r'^source = .*$', f'source = "{tfx_taxi_csv()}"'),
        (r'^window = .*$', "window = 1"),
        (r'^enabled = true.*$', "enabled = false"),
        (r'^\[validation\].*$', "[validation]\nskew_min_examples = 1000000"),
    ]
    text = Path(config_path).read_text()
    for pattern, replacement in changes:
        if len(re.findall(pattern, text, flags=re.M)) != 1:
            raise SystemExit(f"bench: cannot derive the like-for-like config from {config_path}:"
                             f" expected one line matching {pattern!r}")
        text = re.sub(pattern, lambda _, line=replacement: line, text, flags=re.M)
    target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pipeline/configs/taxi.toml")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated, of: cold (cold run and warm rerun), like "
                             "(like for like with the stock example), modes "
                             "(in_memory vs multi_processing on a window of 2 spans), stock; "
                             "parts not run keep their last results")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="runs of the like-for-like and stock parts, whose medians the goal "
                             "compares (default %(default)s)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render the table from the last bench's bench.json")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")

    bench_dir = PROJECT / "outputs" / "bench"
    saved_path = bench_dir / "bench.json"
    saved = json.loads(saved_path.read_text()) if saved_path.is_file() else {"results": {}}
    if not args.render_only:
        bench_dir.mkdir(parents=True, exist_ok=True)
        results = run_parts(args.config, parts, bench_dir, max(1, args.repeat))
        for part in parts:
            saved["results"][part] = [asdict(r) for r in results[part]]
        if "cold" in parts:
            saved["cold"] = breakdown(args.config, bench_dir / "cold",
                                      results["cold"][0].seconds)
        saved_path.write_text(json.dumps(saved, indent=1))
    measured = [Measurement(**r) for part in PARTS for r in saved["results"].get(part, [])]
    table = render(measured, saved.get("cold"))
    (bench_dir / "bench.md").write_text(table)
    print("\n" + table)
    return 0 if all(r.exit_code == 0 for r in measured) else 1


def run_parts(config: str, parts: list[str], bench_dir: Path,
              repeat: int = 1) -> dict[str, list[Measurement]]:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    tfxpipe_run = [sys.executable, "-m", "pipeline.cli", "run"]
    ours = [*tfxpipe_run, "--config", config]
    results: dict[str, list[Measurement]] = {}
    if "cold" in parts:
        shutil.rmtree(bench_dir / "cold", ignore_errors=True)
        results["cold"] = [
            measure("ours, cold (in_memory)", [*ours, "--output-root", str(bench_dir / "cold")],
                    env, bench_dir / "cold.log"),
            measure("ours, warm rerun (all cached)",
                    [*ours, "--output-root", str(bench_dir / "cold")], env,
                    bench_dir / "warm.log")]
    if "like" in parts:
        root = bench_dir / "like"
        config_copy = like_for_like_config(config, bench_dir / "like.toml")
        results["like"] = []
        for _ in range(repeat):
            shutil.rmtree(root, ignore_errors=True)
            results["like"].append(measure(LIKE_NAME, [*tfxpipe_run, "--config",
                                                       str(config_copy), "--output-root",
                                                       str(root)], env, bench_dir / "like.log"))
    if "modes" in parts:
        # The same small run in both of the DirectRunner's modes: why in_memory is the default.
        results["modes"] = []
        for mode, workers in (("in_memory", "1"), ("multi_processing", "0")):
            root = bench_dir / f"mode-{mode}"
            shutil.rmtree(root, ignore_errors=True)
            results["modes"].append(measure(
                f"ours, cold, window of 2 spans ({mode})",
                [*ours, "--output-root", str(root), "--window", "2", "--beam-mode", mode,
                 "--workers", workers], env, bench_dir / f"mode-{mode}.log"))
    if "stock" in parts:
        results["stock"] = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(dir=bench_dir) as workdir:  # a cold run each time
                home = stock_home(Path(workdir))
                results["stock"].append(measure(
                    STOCK_NAME, [sys.executable, "-m", STOCK_MODULE],
                    {**env, "HOME": str(home)}, bench_dir / "stock.log"))
    return results


def breakdown(config_path: str, output_root: Path, wall: float) -> dict[str, Any]:
    """Where a run's wall time went, from its summary.json: backfill runs, and the run's own
    nodes grouped into data, model and optimization stages; the rest is start-up and reports."""
    config = load_config(config_path, str(output_root))
    runs = sorted(p for p in config.runs_dir.iterdir() if (p / "summary.json").is_file())
    summary = json.loads((runs[0] / "summary.json").read_text())
    groups = {"data": 0.0, "model": 0.0, "optimization": 0.0}
    for component in summary["components"]:
        group = ("model" if component["node"] in MODEL_STAGES else "optimization"
                 if component["node"] in OPTIMIZATION_STAGES else "data")
        groups[group] += component["seconds"]
    backfill = summary.get("backfill_seconds", 0.0)
    pipeline = summary.get("pipeline_seconds", sum(groups.values()))
    return {"wall": wall, "backfill": backfill, "backfilled_spans": len(
        summary.get("backfilled_spans", [])), **groups,
        # Components that ran side by side count in two groups; once in the wall time.
        "side_by_side": sum(groups.values()) - pipeline,
        "other": wall - backfill - pipeline}


def grouped(results: list[Measurement]) -> dict[str, list[Measurement]]:
    """The measurements by run name, in the order the runs first appear."""
    groups: dict[str, list[Measurement]] = {}
    for result in results:
        groups.setdefault(result.name, []).append(result)
    return groups


def median_seconds(group: list[Measurement]) -> float:
    return statistics.median(r.seconds for r in group)


def render(results: list[Measurement], cold: dict[str, Any] | None = None) -> str:
    machine = (f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
               f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine}.", "",
             "| run | wall time (s) | peak memory (MB) | exit |", "|---|---:|---:|---:|"]
    runs = grouped(results)
    for name, group in runs.items():
        seconds = f"{median_seconds(group):.1f}"
        if len(group) > 1:
            times = sorted(r.seconds for r in group)
            seconds += f" (median of {len(group)}: {', '.join(f'{t:.1f}' for t in times)})"
        exit_code = next((r.exit_code for r in group if r.exit_code != 0), 0)
        lines.append(f"| {name} | {seconds} | {max(r.peak_mb for r in group):.0f} | "
                     f"{exit_code} |")
    if LIKE_NAME in runs and STOCK_NAME in runs:
        ratio = median_seconds(runs[LIKE_NAME]) / median_seconds(runs[STOCK_NAME])
        lines += ["", f"Like for like against the stock example (medians): {ratio:.2f} of its "
                      "time (goal: at most 0.5)."]
    if cold:
        lines += ["", "Where the cold run's time went:", "",
                  "| part | seconds |", "|---|---:|",
                  f"| backfill: {cold['backfilled_spans']} earlier spans ingested (ExampleGen, "
                  f"a run each, two at a time) and validated (SpanValidation, one run) | "
                  f"{cold['backfill']:.1f} |",
                  f"| the run's data stages (ExampleGen to DataGate, window, resolvers) | "
                  f"{cold['data']:.1f} |",
                  f"| Transform, Trainer, Evaluator, Pusher (the stages the stock example has) | "
                  f"{cold['model']:.1f} |",
                  f"| optimization stage (ModelOptimizer, PrunedModelEvaluator, VariantEvaluator)"
                  f" | {cold['optimization']:.1f} |",
                  f"| less: component time that ran side by side with another component "
                  f"(counted twice above) | -{cold.get('side_by_side', 0.0):.1f} |",
                  f"| start-up, imports, pipeline compilation, summary and report | "
                  f"{cold['other']:.1f} |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
