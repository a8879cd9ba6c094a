"""Run lookup in ML Metadata and statistics across runs and spans, on a small real MLMD store
(SQLite) laid out as TFX records runs: `pipeline_run` and `node` contexts, StatisticsGen
executions with OUTPUT events keyed `statistics`, ExampleStatistics artifacts with a `span`.

Also the report built from a hand-made summary holding every contract key (spans, drift,
variants, anomaly observed/threshold), so the merge with those parts can rely on it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd
from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline.config import load_config
from pipeline.records.runs import list_runs
from pipeline.review.report import build_report
from pipeline.review.runs import ReviewError, open_run, statistics_history
from pipeline.review.unavailable import NotAvailable
from tests.fixtures.cli import TAXI_CONFIG
from tests.fixtures.summaries import ANOMALIES, DRIFT, SPANS, VARIANTS


def _stats_dir(folder: Path, shares: dict[str, int]) -> str:
    """A StatisticsGen-like artifact folder: Split-train and Split-eval FeatureStats.pb."""
    for split, n in (("train", 300), ("eval", 100)):
        dataset = statistics_pb2.DatasetFeatureStatistics(num_examples=n)
        feature = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
        feature.path.step.append("payment_type")
        total = sum(shares.values())
        feature.string_stats.common_stats.num_non_missing = total
        feature.string_stats.common_stats.tot_num_values = total
        for label, count in shares.items():
            feature.string_stats.rank_histogram.buckets.add(label=label, sample_count=count)
        path = folder / f"Split-{split}" / "FeatureStats.pb"
        path.parent.mkdir(parents=True)
        path.write_bytes(statistics_pb2.DatasetFeatureStatisticsList(
            datasets=[dataset]).SerializeToString())
    return str(folder)


class FakeRuns:
    """Writes runs into a real MLMD store the way TFX's StatisticsGen records them."""

    def __init__(self, metadata_path: Path):
        metadata_path.parent.mkdir(parents=True, exist_ok=True)
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(metadata_path)
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self.run_type = self.store.put_context_type(mlmd.ContextType(name="pipeline_run"))
        self.node_type = self.store.put_context_type(mlmd.ContextType(name="node"))
        self.exec_type = self.store.put_execution_type(mlmd.ExecutionType(name="StatisticsGen"))
        self.stats_type = self.store.put_artifact_type(mlmd.ArtifactType(
            name="ExampleStatistics",
            properties={"span": mlmd.INT, "split_names": mlmd.STRING}))
        self.examples_type = self.store.put_artifact_type(mlmd.ArtifactType(
            name="Examples", properties={"split_names": mlmd.STRING}))
        self.examples: dict[int, int] = {}  # statistics id -> the Examples id they describe
        node = self.store.get_context_by_type_and_name("node", "taxi.StatisticsGen")
        [self.node] = [node.id] if node else self.store.put_contexts([mlmd.Context(
            type_id=self.node_type, name="taxi.StatisticsGen")])

    def artifact(self, uri: str, span: int) -> int:
        """Statistics of examples of `span`; like TFX, the statistics' own span stays 0."""
        examples = mlmd.Artifact(type_id=self.examples_type, uri=uri + "-examples")
        examples.custom_properties["span"].int_value = span  # as CsvExampleGen records it
        artifact = mlmd.Artifact(type_id=self.stats_type, uri=uri)
        artifact.properties["span"].int_value = 0
        for a in (examples, artifact):
            a.properties["split_names"].string_value = '["train", "eval"]'
        examples_id, statistics_id = self.store.put_artifacts([examples, artifact])
        self.examples[statistics_id] = examples_id
        return statistics_id

    def run(self, run_id: str, artifact_id: int) -> None:
        time.sleep(0.005)  # distinct creation times order the runs
        [run] = self.store.put_contexts([mlmd.Context(type_id=self.run_type, name=run_id)])
        execution = mlmd.Execution(type_id=self.exec_type,
                                   last_known_state=mlmd.Execution.COMPLETE)
        by_id = {a.id: a for a in self.store.get_artifacts_by_id(
            [artifact_id, self.examples[artifact_id]])}
        artifact, examples = by_id[artifact_id], by_id[self.examples[artifact_id]]
        events = []
        for kind, key in ((mlmd.Event.OUTPUT, "statistics"), (mlmd.Event.INPUT, "examples")):
            events.append(mlmd.Event(type=kind))
            events[-1].path.steps.add(key=key)
            events[-1].path.steps.add(index=0)
        self.store.put_execution(execution, list(zip([artifact, examples], events, strict=True)),
                                 [self._context(run), self._context(self.node)])

    def _context(self, context_id: int) -> mlmd.Context:
        return self.store.get_contexts_by_id([context_id])[0]


@pytest.fixture()
def runs(tmp_path):
    config = load_config(TAXI_CONFIG, str(tmp_path / "out"))
    fake = FakeRuns(config.metadata_path)
    # Under the pipeline's folder, as every artifact is: the store check refuses another's.
    old = fake.artifact(_stats_dir(config.pipeline_dir / "stats-1", {"Cash": 60, "Card": 40}),
                        span=35)
    new = fake.artifact(_stats_dir(config.pipeline_dir / "stats-2", {"Cash": 20, "Card": 80}),
                        span=36)
    fake.run("20250101T000000000000Z", old)   # first run
    fake.run("20250102T000000000000Z", old)   # a cached rerun: same statistics
    fake.run("20250103T000000000000Z", new)   # new data
    return config


def test_latest_run_by_default_and_unique_prefixes(runs):
    assert open_run(runs).run_id == "20250103T000000000000Z"
    assert open_run(runs, run_id="20250102").run_id == "20250102T000000000000Z"
    with pytest.raises(ReviewError, match="'202501' is ambiguous"):
        open_run(runs, run_id="202501")
    with pytest.raises(ReviewError, match="'2024' is not a run of pipeline 'taxi'"):
        open_run(runs, run_id="2024")


def test_no_store_says_to_run_first(tmp_path):
    config = load_config(TAXI_CONFIG, str(tmp_path / "nothing"))
    with pytest.raises(ReviewError, match="no runs yet of pipeline 'taxi' under .*'make run'"):
        open_run(config)


def test_previous_statistics_skip_reruns_of_the_same_data(runs):
    latest = open_run(runs)
    assert latest.summary_rebuilt  # no summary.json: rebuilt from MLMD
    assert latest.summary["rows"] == {"train": 300, "eval": 100}
    previous, table = latest.compare_with_previous("train")
    # The latest earlier run that read other data (here a cached rerun of the first data).
    assert latest.span == 36  # the span of the examples StatisticsGen read
    assert previous.run_id == "20250102T000000000000Z" and previous.span == 35
    assert previous.label == "span 35, run 20250102T000000000000Z"
    [row] = table.to_dict("records")
    assert row["feature"] == "payment_type" and row["value"] == pytest.approx(0.4)
    assert row["moved_most"] == "Card: 40.0% -> 80.0%"
    rerun = open_run(runs, run_id="20250102")
    assert isinstance(rerun.previous_statistics(), NotAvailable)


def test_statistics_history_one_row_per_distinct_statistics(runs):
    history = statistics_history(open_run(runs))
    assert list(history["first_run"]) == ["20250101T000000000000Z", "20250103T000000000000Z"]
    assert list(history["span"]) == [35, 36]
    assert list(history["runs"]) == [2, 1]
    assert list(history["this_run"]) == [False, True]
    assert list(history["rows"]) == ["train 300, eval 100"] * 2
    up_to_second = statistics_history(open_run(runs, run_id="20250102"))
    assert list(up_to_second["runs"]) == [2]


BASELINES = {
    "metric": "auc", "higher_is_better": True, "min_lift": 0.0, "model_value": 0.61,
    "best_baseline": "logistic", "best_value": 0.62, "lift": -0.01, "passed": False,
    "baselines": {"prior": "a constant score", "logistic": "a logistic regression"},
    "slices": [{"slice": {}, "metrics": {"prior": {"auc": 0.5}, "logistic": {"auc": 0.62}}}]}
KEY_SLICES = [{"slice": {"payment_type": "Credit Card"},
               "metrics": {"auc": 0.55, "example_count": 500.0},
               "baselines": {"prior": {"auc": 0.5}, "logistic": {"auc": 0.58}},
               "thresholds": {"auc": ">= 0.8 (overall)"}}]


def test_report_shows_every_contract_key_when_present(runs):
    run = open_run(runs)
    run.summary.update({"outcome": "not blessed", "blessed": False, "spans": SPANS,
                        "drift": DRIFT, "anomalies": ANOMALIES, "variants": VARIANTS,
                        "failed_thresholds": [], "pushed": False, "baselines": BASELINES,
                        "primary_metric": "auc", "key_slices": KEY_SLICES})
    page = build_report(run)
    assert "could not build this section" not in page
    # Key slices come first, with the baselines' figures; the lift gate's refusal is a reason.
    assert page.index('<section id="key-slices">') < page.index('<section id="data">')
    assert "<td>payment_type=Credit Card</td>" in page and "<th>logistic (naive)</th>" in page
    assert ("lift of auc over the best naive baseline (logistic, 0.6200) on overall: -0.0100, "
            "required &gt; 0") in page
    assert "<td>a logistic regression</td>" in page
    assert "data/span-1/b.csv" in page and "data/span-2/a.csv" in page
    assert '<tr class="fail"><td>payment_type</td><td>infinity_norm</td>' in page  # drift
    assert "<th>observed</th><th>threshold</th>" in page and "Bitcoin (~10%)" in page
    assert "<td>tflite_int8</td>" in page and "auc dropped by 0.03 (&gt; 0.01)" in page
    assert "latency_ms_p99" in page and "payment_type=Cash" in page
    for absent in ("recorded no spans", "recorded no drift", "no optimized variants"):
        assert absent not in page
    # The run was not evaluated: its model sections say so instead of failing.
    assert "not available for this run: the Evaluator did not run" in page


def test_report_of_the_run_folder_is_written_atomically(runs):
    from pipeline.review.report import write_report

    run = open_run(runs)
    path = write_report(run)
    assert path == runs.runs_dir / run.run_id / "report.html"
    assert path.read_text().startswith("<!doctype html>")
    assert not list(path.parent.glob("*.partial"))
    json.dumps(run.summary, default=str)  # the rebuilt summary stays JSON-friendly


def _summary_only(config, run_id: str, summary: dict | None) -> None:
    """A run folder as the CLI leaves it: summary.json, or only run.log when it was killed."""
    folder = config.runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "run.log").write_text("")
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps({"run_id": run_id, **summary}))


def test_a_run_halted_before_tfx_opens_on_a_new_output_root(tmp_path):
    config = load_config(TAXI_CONFIG, str(tmp_path / "new"))
    _summary_only(config, "20250105T000000000000Z", {
        "outcome": "halted by data validation", "halted_by": "pre-flight check",
        "anomalies": [{"kind": "WRONG_DELIMITER", "span": 1}]})
    run = open_run(config, run_id="2025")
    assert (run.run_id, run.nodes, run.outcome) == ("20250105T000000000000Z", {},
                                                    "halted by data validation")
    assert "WRONG_DELIMITER" in build_report(run)
    [listed] = list_runs(config)
    assert listed["detail"] == "pre-flight: WRONG_DELIMITER in span 1"


def test_a_run_halted_in_its_backfill_opens_by_its_exact_id_with_the_backfills_nodes(runs):
    """Its only pipeline runs are the backfill's (<id>-span-N): the exact id is not
    ambiguous, and the halted span's statistics are the run's."""
    fake = FakeRuns(runs.metadata_path)
    tmp = runs.metadata_path.parent
    fake.run("20250104T000000000000Z-span-37", fake.artifact(
        _stats_dir(tmp / "stats-37", {"Cash": 50, "Card": 50}), span=37))
    fake.run("20250104T000000000000Z-span-38", fake.artifact(
        _stats_dir(tmp / "stats-38", {"Cash": 10, "Card": 90}), span=38))
    _summary_only(runs, "20250104T000000000000Z", {
        "outcome": "halted by data validation", "halted_span": 38,
        "anomalies": [{"kind": "LABEL_NEW_CLASS"}]})
    run = open_run(runs, run_id="20250104T000000000000Z")
    assert run.span == 38 and run.outcome == "halted by data validation"
    assert run.previous_statistics().span == 37
    listed = {r["run_id"]: r for r in list_runs(runs)}
    assert listed["20250104T000000000000Z"]["detail"] == "1 anomaly in span 38"
    assert not any("-span-" in r for r in listed)
    assert open_run(runs).run_id == "20250104T000000000000Z"  # the latest


def test_a_killed_run_is_listed_without_an_outcome_and_opens(runs):
    _summary_only(runs, "20250109T000000000000Z", None)
    assert list_runs(runs)[-1]["outcome"].startswith("unknown (no summary")
    run = open_run(runs)
    assert run.summary_rebuilt and "it was stopped, or is still running" in run.describe()
