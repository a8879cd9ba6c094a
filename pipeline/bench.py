"""`make bench`: our pipeline's cold and warm runs against the stock TFX taxi example.

On the full default data, in one session: a cold run of `tfxpipe run` (fresh output root), a warm
rerun (everything cached), a cold run in Beam's multi_processing mode (to justify the default), and
the stock `taxi_pipeline_native_keras.py` that ships inside the installed tfx package, run from
there with its own default settings. Wall time and peak memory (summed RSS of the process tree,
sampled) of each are written as a Markdown table to outputs/bench/bench.md and printed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from pipeline.config import find_project_root
from pipeline.data import tfx_taxi_csv

PROJECT = find_project_root(Path(__file__).resolve().parent)
STOCK_MODULE = "tfx.examples.chicago_taxi_pipeline.taxi_pipeline_native_keras"


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    exit_code: int


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # the process ended between listing and reading
            pass
    return total


def measure(name: str, command: list[str], env: dict[str, str], log: Path) -> Measurement:
    """Runs `command`, sampling the summed RSS of its process tree every 0.2 s."""
    started = time.monotonic()
    with open(log, "w") as out:
        child = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=out, stderr=out)
        proc = psutil.Process(child.pid)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, _tree_rss(proc))
                except psutil.Error:
                    return
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        done.set()
        sampler.join()
    result = Measurement(name, time.monotonic() - started, peak / 2**20, code)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pipeline/configs/taxi.toml")
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--skip-modes", action="store_true",
                        help="skip the multi_processing comparison run")
    args = parser.parse_args(argv)

    bench_dir = PROJECT / "outputs" / "bench"
    shutil.rmtree(bench_dir, ignore_errors=True)
    bench_dir.mkdir(parents=True)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    ours = [sys.executable, "-m", "pipeline.cli", "run", "--config", args.config]
    results = [
        measure("ours, cold (in_memory)", [*ours, "--output-root", str(bench_dir / "cold")],
                env, bench_dir / "cold.log"),
        measure("ours, warm rerun (all cached)", [*ours, "--output-root", str(bench_dir / "cold")],
                env, bench_dir / "warm.log"),
    ]
    if not args.skip_modes:
        results.append(measure(
            "ours, cold (multi_processing, 0 workers)",
            [*ours, "--output-root", str(bench_dir / "mp"), "--beam-mode", "multi_processing",
             "--workers", "0"], env, bench_dir / "multi_processing.log"))
    if not args.skip_stock:
        with tempfile.TemporaryDirectory(dir=bench_dir) as workdir:
            home = stock_home(Path(workdir))
            results.append(measure("stock TFX taxi_pipeline_native_keras (defaults)",
                                   [sys.executable, "-m", STOCK_MODULE], {**env, "HOME": str(home)},
                                   bench_dir / "stock.log"))
    table = render(results)
    (bench_dir / "bench.md").write_text(table)
    print("\n" + table)
    return 0 if all(r.exit_code == 0 for r in results) else 1


def render(results: list[Measurement]) -> str:
    machine = (f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
               f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine}.", "",
             "| run | wall time (s) | peak memory (MB) | exit |", "|---|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.seconds:.1f} | {r.peak_mb:.0f} | {r.exit_code} |" for r in results]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
