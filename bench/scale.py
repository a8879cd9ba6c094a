"""`make bench-scale`: the like-for-like pipeline at 15k, 150k and 1.5M rows, and the stock TFX
taxi example at 15k and 150k, in one session.

The larger inputs are the packaged taxi CSV repeated with jitter (scale_data.py): fares, tips and
distances of each copy scaled by one factor per row, so the label (tips over 20% of the fare)
stays what it was, and coordinates moved by a few metres. Each run's wall time, peak memory of
its process tree and CPU seconds, and each of our components' time from the run's summary, go
to outputs/bench/scale.json and as tables with the growth ratios to outputs/bench/scale.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from bench import speed
from bench.scale_data import generate
from bench.scale_report import render
from components.shared.files import write_atomically
from pipeline.clusters import flink, spark
from pipeline.config import load_config

SIZES = {"15k": 1, "150k": 10, "1.5M": 100}  # copies of the packaged CSV's 15,002 rows
STOCK_SIZES = ("15k", "150k")
# "Beam modes" of their own: the clusters of `tfxpipe flink|spark start`, each started for the
# bench with 2 slots or cores.
CLUSTERS = {"flink": ("FlinkRunner", flink), "spark": ("SparkRunner", spark)}
CLUSTER_CORES = 2


def _config(size: str, csv: Path, bench_dir: Path, beam_mode: str, job_endpoint: str) -> Path:
    """The like-for-like config on `csv`; skew is reported, not judged, at every size (the
    like-for-like run's rule, which a fixed minimum would undo at 1.5M rows). In the `flink`
    mode, the Beam components run on the cluster at `job_endpoint`."""
    target = bench_dir / f"scale-{size}-{beam_mode}.toml"
    speed.like_for_like_config("pipeline/configs/taxi.toml", target)
    text = target.read_text()
    text = re.sub(r'^source = .*$', f'source = "{csv}"', text, flags=re.M)
    text = re.sub(r'^skew_min_examples = .*$', "skew_min_examples = 1000000000", text, flags=re.M)
    if beam_mode in CLUSTERS:
        text = re.sub(r'^runner = "DirectRunner"$', f'runner = "{CLUSTERS[beam_mode][0]}"\n'
                      f'job_endpoint = "{job_endpoint}"\nparallelism = {CLUSTER_CORES}', text,
                      flags=re.M)
    write_atomically(target, text)
    return target


def _components(config: Path, root: Path) -> dict[str, float]:
    """{component: seconds} of the run's summary (the newest run under `root`)."""
    runs = load_config(str(config), str(root)).runs_dir
    newest = max((p for p in runs.iterdir() if (p / "summary.json").is_file()),
                 key=lambda p: p.name)
    summary = json.loads((newest / "summary.json").read_text())
    return {c["node"]: c["seconds"] for c in summary["components"]}


def run_ours(size: str, csv: Path, bench_dir: Path, beam_mode: str, job_endpoint: str = "",
             cluster: tuple[int, ...] = ()) -> dict:
    """Our pipeline's run; on a cluster (`job_endpoint`), the memory and CPU time of its
    processes (`cluster`) count too."""
    config = _config(size, csv, bench_dir, beam_mode, job_endpoint)
    root = bench_dir / f"scale-{size}-{beam_mode}"
    shutil.rmtree(root, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config),
               "--output-root", str(root)]
    if beam_mode not in CLUSTERS:
        command += ["--beam-mode", beam_mode,
                    "--workers", "0" if beam_mode == "multi_processing" else "1"]
    measured = speed.measure(f"ours, {size} rows ({beam_mode})", command, _env(),
                             bench_dir / f"scale-{size}-{beam_mode}.log", also=cluster)
    found = {**asdict(measured), "size": size, "kind": "ours", "beam_mode": beam_mode,
             "date": _today(), "components": {}}
    if measured.exit_code == 0:
        found["components"] = _components(config, root)
    shutil.rmtree(root / "pipelines", ignore_errors=True)  # gigabytes at 1.5M rows
    return found


def run_stock(size: str, csv: Path, bench_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=bench_dir) as workdir:
        home = speed.stock_home(Path(workdir))
        shutil.copy(csv, home / "taxi" / "data" / "simple" / "data.csv")
        measured = speed.measure(f"stock example, {size} rows", [
            sys.executable, "-m", speed.STOCK_MODULE], {**_env(), "HOME": str(home)},
            bench_dir / f"scale-stock-{size}.log")
    return {**asdict(measured), "size": size, "kind": "stock", "date": _today(),
            "components": {}}


@contextlib.contextmanager
def _cluster(bench_dir: Path, mode: str) -> Iterator[tuple[str, tuple[int, ...]]]:
    """The cluster of `mode` for a run (its job endpoint and its processes' pids), stopped
    after it; ("", ()) for a DirectRunner mode."""
    if mode not in CLUSTERS:
        yield "", ()
        return
    engine = CLUSTERS[mode][1]
    cluster = engine.local(bench_dir / mode, None, CLUSTER_CORES)
    engine.start(cluster)
    try:
        engine.wait_ready(cluster, timeout=180)
        yield cluster.job_endpoint, tuple(engine.pid(cluster, name) for name in engine.PROCESSES)
    finally:
        engine.stop(cluster)


def _today() -> str:
    return datetime.date.today().isoformat()


def _key(run: dict) -> tuple:
    return run["kind"], run["size"], run.get("beam_mode", "")


def _env() -> dict[str, str]:
    return {**os.environ, "TF_USE_LEGACY_KERAS": "1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help="comma-separated, of: %(default)s")
    parser.add_argument("--stock-sizes", default=",".join(STOCK_SIZES),
                        help="sizes the stock example runs at ('' for none)")
    parser.add_argument("--beam-modes", default="in_memory",
                        help="DirectRunner modes our pipeline runs in, comma-separated "
                             "(in_memory, multi_processing), or flink, spark: on a cluster "
                             "started for the run (make flink-jars, make spark-jars first)")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    stock = [s for s in args.stock_sizes.split(",") if s]
    unknown = sorted(set(sizes + stock) - set(SIZES))
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    bench_dir = speed.PROJECT / "outputs" / "bench"
    saved_path = bench_dir / "scale.json"
    saved = json.loads(saved_path.read_text())["runs"] if saved_path.is_file() else []
    runs = []
    if not args.render_only:
        bench_dir.mkdir(parents=True, exist_ok=True)
        modes = [m for m in args.beam_modes.split(",") if m]
        for size in dict.fromkeys(sizes + stock):
            csv = generate(SIZES[size], bench_dir / "scale-data" / f"{size}.csv")
            for mode in (m for m in modes if size in sizes):
                with _cluster(bench_dir, mode) as cluster:  # a new one for each run
                    runs.append(run_ours(size, csv, bench_dir, mode, *cluster))
            if size in stock:
                runs.append(run_stock(size, csv, bench_dir))
    # Runs not repeated now keep their last results (an earlier session's: the table says so).
    runs = [r for r in saved if _key(r) not in {_key(n) for n in runs}] + runs
    write_atomically(saved_path, json.dumps({"runs": runs}, indent=1))
    table = render(runs)
    write_atomically(bench_dir / "scale.md", table)
    print("\n" + table)
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
