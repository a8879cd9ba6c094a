"""Spans, drift records and lineage on the shared taxi runs (tests/fixtures/taxi.py `taxi_runs`).

`first` processes span 36 (2015-12) with a window of six monthly spans: it backfills spans
31-35 (each ingested in its own run, then all validated in one), then trains on all six.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.fixtures.cli import run_cli

pytestmark = pytest.mark.slow

WINDOW = [31, 32, 33, 34, 35, 36]


def test_the_run_backfills_the_window_and_records_spans_with_fingerprints(taxi_runs):
    process, summary = taxi_runs.process("first"), taxi_runs.summary("first")
    assert "backfill: ingesting and validating span(s) 31-35 first" in process.stdout
    assert summary["backfilled_spans"] == [31, 32, 33, 34, 35]
    seconds = [float(m) for m in re.findall(r"^  span 3[1-5] +ingested +([\d.]+) s$",
                                            process.stdout, re.MULTILINE)]
    seconds += [float(m) for m in re.findall(
        r"^  span 31-35 +validated +([\d.]+) s  \(one SpanValidation job\)$", process.stdout,
        re.MULTILINE)]
    # Spans are ingested two at a time (this process and a worker process), then validated.
    assert len(seconds) == 6
    assert max(seconds[:5]) + seconds[5] - 0.5 <= summary["backfill_seconds"] <= sum(seconds) + 2
    assert [s["span"] for s in summary["spans"]] == WINDOW
    for span in summary["spans"]:
        [entry] = span["files"]
        path = Path(entry["path"])
        assert path.parent.name == f"span-{span['span']}"
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == sum(1 for _ in open(path)) - 1
    assert summary["window_rows"]["train"] + summary["window_rows"]["eval"] == 2231
    # A rerun with nothing new ingests nothing again.
    assert "backfill" not in taxi_runs.process("again").stdout
    assert taxi_runs.summary("again")["backfilled_spans"] == []
    assert taxi_runs.summary("again")["backfill_seconds"] == 0


def test_drift_is_recorded_for_every_span_also_under_threshold(taxi_runs):
    drift = taxi_runs.summary("first")["drift"]
    # Span 31 is the first span ever ingested: nothing before it to compare with.
    assert sorted({(r["span"], r["previous_span"]) for r in drift}) == [
        (32, 31), (33, 32), (34, 33), (35, 34), (36, 35)]
    for span in range(32, 37):
        rows = {r["feature"]: r for r in drift if r["span"] == span}
        assert rows["label"]["comparator"] == "infinity_norm"
        assert rows["label"]["threshold"] == 0.18
        assert rows["fare"]["comparator"] == "jensen_shannon_divergence"
        assert not any(r["exceeded"] for r in rows.values())
        assert all(0 <= r["value"] <= 1 for r in rows.values())
    assert "drift span 36 vs 35:" in taxi_runs.process("first").stdout


def test_drift_values_can_be_trended_from_ml_metadata(taxi_runs):
    from pipeline.records.mlmd import custom_property, open_store

    store = open_store(taxi_runs.metadata)
    reports = store.get_artifacts_by_type("DataDriftReport")
    trend = {custom_property(r, "span"): custom_property(r, "drift:label") for r in reports
             if custom_property(r, "previous_span") != -1}
    assert sorted(trend) == [32, 33, 34, 35, 36]
    recorded = {r["span"]: r["value"] for r in taxi_runs.summary("first")["drift"]
                if r["feature"] == "label"}
    assert trend == pytest.approx(recorded, abs=1e-6)


def test_gate_results_name_the_spans_they_validated(taxi_runs):
    from pipeline.records.mlmd import custom_property, open_store

    store = open_store(taxi_runs.metadata)
    passed = {custom_property(r, "span") for r in store.get_artifacts_by_type(
        "DataValidationResult") if custom_property(r, "passed") == 1}
    assert passed == set(WINDOW)


def test_the_backfill_ingests_span_by_span_and_validates_in_one_run(taxi_runs):
    from pipeline.records.mlmd import custom_property, open_store, run_nodes

    store = open_store(taxi_runs.metadata)
    run_id = taxi_runs.summary("first")["run_id"]
    for span in WINDOW[:-1]:
        nodes = run_nodes(store, "taxi", f"{run_id}-span-{span}")
        assert {n: r.state for n, r in nodes.items()} == {"CsvExampleGen": "COMPLETE"}
    nodes = run_nodes(store, "taxi", f"{run_id}-span-31-35")
    validation = nodes["SpanValidation"]
    assert validation.state == "COMPLETE"
    ingested = {custom_property(e, "span"): e.id for e in validation.inputs["examples"]}
    assert sorted(ingested) == WINDOW[:-1]
    for key in ("statistics", "anomalies", "report", "result"):
        artifacts = validation.outputs[key]
        assert [a.uri.rsplit("/", 1)[-1] for a in artifacts] == [
            f"span-{s}" for s in WINDOW[:-1]]
    for result in validation.outputs["result"]:
        assert custom_property(result, "passed") == 1
        assert custom_property(result, "examples_id") == ingested[custom_property(result, "span")]
    # The span before the window (30) was never ingested: span 31 has no drift baseline.
    assert "baseline_examples" not in validation.inputs or \
        not validation.inputs["baseline_examples"]


def test_lineage_of_the_pushed_version(taxi_runs):
    process = run_cli("lineage", "--config", str(taxi_runs.config),
                      "--output-root", str(taxi_runs.out), "--json", timeout=300)
    assert process.returncode == 0, process.stderr
    info = json.loads(process.stdout)
    manifest = json.loads((taxi_runs.model_dir / "1" / "manifest.json").read_text())
    assert info["version"] == 1 and info["problems"] == []
    assert info["run_id"] == taxi_runs.run_id("first")
    assert [s["span"] for s in info["spans"]] == WINDOW
    for span, recorded in zip(info["spans"], manifest["spans"], strict=True):
        assert span["files"][0]["sha256"] == recorded["files"][0]["sha256"]
        assert span["files"][0]["unchanged_on_disk"] is True
        assert span["input_fingerprint"].startswith("split:single_split,num_files:1")
        assert span["read_from"][0].endswith(f"span-{span['span']}/*.csv")
    assert info["schema"]["sha256"] == manifest["schema"]["sha256"]
    assert info["schema"]["source"].endswith("schema.pbtxt")
    assert info["hyperparameters"]["train_steps"] == 300
    assert info["hyperparameters"]["model"] == manifest["hyperparameters"]["model"]
    assert info["code_revision"] == manifest["code_revision"]
    assert info["evaluation"]["baseline_version"] is None and info["evaluation"]["blessed"]
    text = run_cli("lineage", "--config", str(taxi_runs.config),
                   "--output-root", str(taxi_runs.out), "--no-metrics", timeout=300)
    assert text.returncode == 0
    assert "version 1 of 'taxi_big_tipper'" in text.stdout
    assert "data: 6 span(s), 2231 rows" in text.stdout
    assert "baseline: none" in text.stdout
    missing = run_cli("lineage", "--config", str(taxi_runs.config),
                      "--output-root", str(taxi_runs.out), "--version", "7", timeout=300)
    assert missing.returncode == 2 and "versions there: 1" in missing.stderr
