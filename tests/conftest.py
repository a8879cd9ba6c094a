"""Session-wide fixtures: the taxi end-to-end runs, made once and shared by every test that reads
them (end-to-end assertions, optimization, review notebooks and reports).

Three runs share one output root, as a user's successive runs would:
1. `first`: a fresh run backfills the spans of its window, trains, evaluates and pushes
   version 1 with its manifest;
2. `again`: the same run again is served from cache and pushes nothing new;
3. `strict`: a run with an unreachable AUC floor completes, is not blessed, pushes nothing, exits 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.e2e_helpers import TAXI_CONFIG, last_run_id, read_summary, run_cli, write_config

# A quick version of the default taxi config: a window of six monthly spans (2015-07 to
# 2015-12, 2,231 trips), few steps, a reachable floor.
QUICK_SPAN, QUICK_WINDOW = 36, 6
QUICK = {
    "span = 0 ": f"span = {QUICK_SPAN} ",
    "window = 24 ": f"window = {QUICK_WINDOW} ",
    "train_steps = 2000": "train_steps = 300",
    "steps_per_epoch = 200": "steps_per_epoch = 100",
    "batch_size = 256": "batch_size = 128",
    "eval_steps = 20": "eval_steps = 5",
    "lower_bound = 0.80 ": "lower_bound = 0.70 ",
    # The optimization stage: a shorter fine-tune, fewer calibration examples and latency calls;
    # on a 760-example eval split a slice AUC moves by more than 0.01 between two good models.
    "finetune_steps = 1000 ": "finetune_steps = 300 ",
    "pruning_end_step = 600\n": "pruning_end_step = 200\n",
    "representative_samples = 200 ": "representative_samples = 50 ",
    "latency_calls = 1000 ": "latency_calls = 100 ",
    "\nauc = 0.01\n": "\nauc = 0.05\n",
}


@dataclass
class TaxiRuns:
    out: Path                      # the output root all runs share
    config: Path                   # the quick config of runs `first` and `again`
    home: Path                     # HOME of the runs: must stay empty
    results: dict[str, tuple[CompletedProcess, str]] = field(default_factory=dict)

    @property
    def pipeline_dir(self) -> Path:
        return self.out / "taxi"

    @property
    def metadata(self) -> Path:
        return self.pipeline_dir / "metadata.sqlite"

    @property
    def model_dir(self) -> Path:
        return self.pipeline_dir / "serving" / "taxi_big_tipper"

    @property
    def data_dir(self) -> Path:
        """Where the runs' data is materialised: span-N/YYYY-MM.csv."""
        return self.config.parent / "data"

    @property
    def data_csv(self) -> Path:
        """A CSV file of raw rows the runs trained on (the newest span of the window)."""
        return next((self.data_dir / f"span-{QUICK_SPAN}").glob("*.csv"))

    def process(self, name: str) -> CompletedProcess:
        return self.results[name][0]

    def run_id(self, name: str) -> str:
        return self.results[name][1]

    def summary(self, name: str) -> dict:
        return read_summary(self.pipeline_dir / "runs", self.run_id(name))


@pytest.fixture(scope="session")
def taxi_runs(tmp_path_factory) -> TaxiRuns:
    root = tmp_path_factory.mktemp("taxi")
    config = write_config(root / "taxi.toml", TAXI_CONFIG, {
        **QUICK, 'dir = "data/materialized/taxi"': f'dir = "{root / "data"}"'})
    unreachable = write_config(root / "strict.toml", config,
                               {"lower_bound = 0.70 ": "lower_bound = 0.999 "})
    home = root / "home"
    home.mkdir()
    runs = TaxiRuns(out=root / "out", config=config, home=home)
    for name, cfg in [("first", config), ("again", config), ("strict", unreachable)]:
        process = run_cli("run", "--config", str(cfg), "--output-root", str(runs.out), home=home)
        runs.results[name] = (process, last_run_id(runs.pipeline_dir / "runs"))
    return runs
