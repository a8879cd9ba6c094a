"""SpanValidation executor on small real Examples artifacts, against the per-span components.

What it writes for each span must be what StatisticsGen, ExampleValidator, DataDrift and
DataGate write for that span on its own: the tests run those executors on the same artifacts
and compare.
"""

import json
import os

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.components.example_validator import executor as example_validator
from tfx.components.statistics_gen import executor as statistics_gen
from tfx.types import standard_artifacts

from components.data_gate import GateRules
from components.shared.artifacts import DataDriftReport, DataValidationResult
from components.shared.params import encode
from components.span_validation.executor import OUTPUT_KEYS, Executor
from tests.fixtures.trips import (
    LABEL,
    example,
    examples_artifact,
    label_on,
    run_data_drift,
    schema_artifact,
    train_eval,
    trips,
)

OUTPUT_TYPES = {"statistics": standard_artifacts.ExampleStatistics,
                "anomalies": standard_artifacts.ExampleAnomalies,
                "report": DataDriftReport, "result": DataValidationResult}


def _validate(tmp_path, spans, baseline=None, report_only=(), label=LABEL):
    """Runs the executor in `tmp_path` (its schema in `tmp_path`/schema); returns the outputs."""
    outputs = {}
    for key, kind in OUTPUT_TYPES.items():
        outputs[key] = [kind()]
        outputs[key][0].uri = str(tmp_path / "out" / key)
    inputs = {"examples": spans, "schema": [schema_artifact(tmp_path)]}
    if baseline is not None:
        inputs["baseline_examples"] = [baseline]
    Executor().Do(inputs, outputs, {
        "label": encode(label),
        "rules": encode(GateRules(report_only=tuple(report_only), validation_key="k1"))})
    return outputs


def _read(path, proto):
    message = proto()
    with open(path, "rb") as handle:
        message.ParseFromString(handle.read())
    return message


def _verdict(result):
    with open(os.path.join(result.uri, "result.json")) as handle:
        return json.load(handle)


@pytest.fixture
def four_spans(tmp_path):
    """Span 1 (validated before: the baseline), then 2 and 4 steady and 3 whose label moves
    from 50/50 to 70/30."""
    shares = {1: 0.5, 2: 0.5, 3: 0.7, 4: 0.7}
    return {span: examples_artifact(tmp_path, f"span{span}", span,
                            train_eval(trips(400, share, seed=span)))
            for span, share in shares.items()}


def test_spans_are_validated_oldest_first_up_to_the_first_that_fails(tmp_path, four_spans):
    spans = [four_spans[4], four_spans[2], four_spans[3]]  # any order in
    outputs = _validate(tmp_path, spans, baseline=four_spans[1])
    # Span 3 fails on the label's drift: span 4, after it, is not validated at all.
    for key in OUTPUT_KEYS:
        assert [a.uri for a in outputs[key]] == [
            str(tmp_path / "out" / key / f"span-{span}") for span in (2, 3)]
    first, second = outputs["result"]
    assert first.get_int_custom_property("passed") == 1
    assert first.get_int_custom_property("examples_id") == four_spans[2].id
    assert first.get_string_custom_property("validation_key") == "k1"
    assert second.get_int_custom_property("passed") == 0
    [row] = [r for r in _verdict(second)["anomalies"] if r["feature"] == "label"]
    assert row["short"] == "Drift vs span 2" and row["observed"] == "0.2000"
    reports = outputs["report"]
    assert [(r.get_int_custom_property("span"), r.get_int_custom_property("previous_span"))
            for r in reports] == [(2, 1), (3, 2)]
    assert reports[1].get_float_custom_property("drift:label") == pytest.approx(0.2, abs=1e-6)
    assert [a.span for a in outputs["statistics"]] == [2, 3]


def test_each_span_gets_what_the_per_span_components_write(tmp_path, four_spans):
    outputs = _validate(tmp_path, [four_spans[2]], baseline=four_spans[1])
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    [statistics], [anomalies], [report] = (outputs[k] for k in ("statistics", "anomalies",
                                                                "report"))

    # StatisticsGen on the same span: the same statistics per split.
    stock = standard_artifacts.ExampleStatistics()
    stock.uri = str(tmp_path / "stock_statistics")
    statistics_gen.Executor().Do({"examples": [four_spans[2]]}, {"statistics": [stock]},
                                 {"exclude_splits": "[]"})
    for split in ("train", "eval"):
        ours = _read(os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb"),
                     statistics_pb2.DatasetFeatureStatisticsList).datasets[0]
        theirs = _read(os.path.join(stock.uri, f"Split-{split}", "FeatureStats.pb"),
                       statistics_pb2.DatasetFeatureStatisticsList).datasets[0]
        assert ours.num_examples == theirs.num_examples > 0
        assert ours.name == theirs.name
        by_name = {f.path.step[0]: f for f in theirs.features}
        assert {f.path.step[0] for f in ours.features} == set(by_name)
        for feature in ours.features:
            other = by_name[feature.path.step[0]]
            assert feature.type == other.type
            if feature.HasField("num_stats"):
                assert feature.num_stats.mean == pytest.approx(other.num_stats.mean)
                assert feature.num_stats.common_stats.num_non_missing == \
                    other.num_stats.common_stats.num_non_missing
            else:
                assert feature.string_stats.unique == other.string_stats.unique

        # ExampleValidator on StatisticsGen's output: the same anomalies (none here).
        stock_anomalies = standard_artifacts.ExampleAnomalies()
        stock_anomalies.uri = str(tmp_path / "stock_anomalies")
        example_validator.Executor().Do(
            {"statistics": [stock], "schema": [schema]},
            {"anomalies": [stock_anomalies]}, {"exclude_splits": "[]"})
        assert _read(os.path.join(anomalies.uri, f"Split-{split}", "SchemaDiff.pb"),
                     anomalies_pb2.Anomalies).anomaly_info == _read(
            os.path.join(stock_anomalies.uri, f"Split-{split}", "SchemaDiff.pb"),
            anomalies_pb2.Anomalies).anomaly_info

    # DataDrift on the same span and baseline: the same drift measurements.
    _, theirs = run_data_drift(tmp_path / "drift", four_spans[2], baseline=four_spans[1])
    with open(os.path.join(report.uri, "drift.json")) as handle:
        ours = json.load(handle)
    assert {r["feature"]: r["value"] for r in ours["drift"]} == pytest.approx(
        {r["feature"]: r["value"] for r in theirs["drift"]}, abs=1e-6)
    assert ours["label"] == theirs["label"]


def test_a_new_column_halts_unless_it_is_report_only(tmp_path, four_spans):
    extra = tf.train.Example.FromString(example(10.0, 1.0, "Cash"))
    extra.features.feature["surge"].float_list.value.append(1.5)
    rows = trips(200, 0.5, seed=7) + [extra.SerializeToString()]
    span = examples_artifact(tmp_path, "span5", 5, train_eval(rows))

    [halted] = _validate(tmp_path / "halt", [span])["result"]
    assert halted.get_int_custom_property("passed") == 0
    assert {(r["feature"], r["kind"]) for r in _verdict(halted)["anomalies"]} >= {
        ("surge", "SCHEMA_NEW_COLUMN")}
    [reported] = _validate(tmp_path / "report", [span],
                           report_only=["SCHEMA_NEW_COLUMN"])["result"]
    assert reported.get_int_custom_property("passed") == 1
    assert [r["severity"] for r in _verdict(reported)["anomalies"]
            if r["feature"] == "surge"] == ["report"]


def test_a_label_class_that_no_span_before_had_halts_at_its_span(tmp_path):
    """payment_type as a multiclass label: spans 1 and 2 hold 'Cash' and 'Credit Card' in about
    the same mix; 'Bitcoin' in span 3 is new and halts at span 3, not before."""
    def span(number, rows):
        return examples_artifact(tmp_path, f"span{number}", number, train_eval(rows))

    baseline = span(1, trips(200, 0.3, seed=1, card=0.5))
    steady = span(2, trips(200, 0.3, seed=2, card=0.5))
    new = span(3, trips(196, 0.3, seed=3, card=0.5) + [example(9.0, 1.0, "Bitcoin")] * 4)
    outputs = _validate(tmp_path, [steady, new], baseline=baseline,
                        label=label_on("payment_type", "multiclass", 1.0))
    first, second = outputs["result"]
    assert first.get_int_custom_property("passed") == 1
    [row] = [r for r in _verdict(second)["anomalies"] if r["kind"] == "LABEL_NEW_CLASS"]
    assert "'Bitcoin' (4 example(s) in span 3)" in row["description"]
    assert "(Cash, Credit Card)" in row["description"]
