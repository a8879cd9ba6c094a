"""`make bench-scale`'s inputs and tables: jittered copies keep every label and missing value,
and the goals are computed from the measured runs."""

from __future__ import annotations

import pandas as pd

from bench.scale import _config
from bench.scale_data import _big_tipper, generate
from bench.scale_report import render
from pipeline.config import load_config
from pipeline.inputs.sources import tfx_taxi_csv


def test_jittered_copies_keep_labels_missing_values_and_untouched_columns(tmp_path):
    path = generate(3, tmp_path / "45k.csv")
    rows = pd.read_csv(tfx_taxi_csv(), dtype=str, keep_default_na=False)
    copies = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(copies) == 3 * len(rows)
    for index in range(3):
        copy = copies.iloc[index * len(rows):(index + 1) * len(rows)].reset_index(drop=True)
        assert (_big_tipper(copy) == _big_tipper(rows)).all()
        for column in rows:
            assert ((copy[column] == "") == (rows[column] == "")).all(), column
        assert copy["company"].equals(rows["company"])
        changed = (copy["fare"] != rows["fare"]).mean()
        assert (changed == 0) if index == 0 else changed > 0.9
    assert generate(3, path) == path  # kept, not written again


def test_the_scale_config_reads_the_generated_csv_and_does_not_judge_skew(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("x\n1\n")
    config = load_config(str(_config("150k", csv, tmp_path, "in_memory", "")),
                         str(tmp_path / "out"))
    assert str(config.data.source) == str(csv)
    assert config.validation.skew_min_examples == 1_000_000_000
    assert config.optimization.enabled is False
    assert config.beam.runner == "DirectRunner"
    on_flink = load_config(str(_config("150k", csv, tmp_path, "flink", "localhost:1")),
                           str(tmp_path / "out")).beam
    assert (on_flink.runner, on_flink.job_endpoint, on_flink.parallelism) == (
        "FlinkRunner", "localhost:1", 2)


def _run(size, seconds, kind="ours", peak_mb=1000.0, components=None):
    return {"name": f"{kind} {size}", "size": size, "kind": kind, "beam_mode": "in_memory",
            "seconds": seconds, "peak_mb": peak_mb, "cpu_seconds": 2 * seconds,
            "exit_code": 0, "components": components or {}}


def test_the_tables_give_growth_and_the_share_of_the_stock_examples_time():
    table = render([
        _run("15k", 50.0, components={"Evaluator": 5.0}),
        _run("150k", 100.0, components={"Evaluator": 10.0}),
        _run("1.5M", 600.0, peak_mb=6144.0, components={"Evaluator": 120.0}),
        _run("150k", 400.0, kind="stock")])
    assert "1.5M rows took 12.0 times the 15k run's wall time" in table
    assert "peak memory 6.0 GB" in table
    assert "At 150k rows ours took 0.25 of the stock example's time" in table
    assert "| Evaluator | 5.0 | 10.0 | 120.0 | x12.0 (MORE than linear) |" in table
