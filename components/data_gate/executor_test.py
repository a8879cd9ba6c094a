"""DataGate executor on real TFDV anomalies computed from small DataFrames."""

import json
import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from components.data_gate import GateRules
from components.data_gate.executor import DataValidationError, Executor
from components.shared.artifacts import DataDriftReport, DataValidationResult
from components.shared.params import encode

GOOD = pd.DataFrame({"fare": [1.0, 2.0, 3.0], "payment_type": ["Cash", "Card", "Cash"]})


def _anomalies_artifact(tmp_path, frames):
    """An ExampleAnomalies artifact whose splits hold TFDV's verdict on each frame."""
    schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(GOOD))
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / "anomalies")
    artifact.split_names = artifact_utils.encode_split_names(list(frames))
    for split, frame in frames.items():
        anomalies = tfdv.validate_statistics(tfdv.generate_statistics_from_dataframe(frame), schema)
        folder = os.path.join(artifact.uri, f"Split-{split}")
        os.makedirs(folder)
        with open(os.path.join(folder, "SchemaDiff.pb"), "wb") as handle:
            handle.write(anomalies.SerializeToString())
    return artifact


def _run(tmp_path, frames, halt=1):
    result = DataValidationResult()
    result.uri = str(tmp_path / "result")
    os.makedirs(result.uri)
    inputs = {"anomalies": [_anomalies_artifact(tmp_path, frames)]}
    error = None
    try:
        Executor().Do(inputs, {"result": [result]}, {"rules": encode(GateRules(halt=bool(halt)))})
    except DataValidationError as raised:
        error = raised
    with open(os.path.join(result.uri, "result.json")) as handle:
        return result, json.load(handle), error


def test_clean_data_passes(tmp_path):
    result, table, error = _run(tmp_path, {"train": GOOD, "eval": GOOD})
    assert error is None
    assert table == {"passed": True, "anomalies": []}
    assert result.get_int_custom_property("passed") == 1


def test_anomalies_halt_with_a_table(tmp_path):
    bad = pd.DataFrame({"fare": ["high", "low", "x"], "payment_type": ["Cash", "Card", "Cash"]})
    result, table, error = _run(tmp_path, {"train": GOOD, "eval": bad})
    assert error is not None and "fare" in str(error) and "nothing is pushed" in str(error)
    assert table["passed"] is False
    rows = table["anomalies"]
    assert {r["split"] for r in rows} == {"eval"}
    assert rows[0]["feature"] == "fare"
    assert rows[0]["kind"].startswith("UNEXPECTED") or "TYPE" in rows[0]["kind"]
    assert result.get_int_custom_property("anomaly_count") == len(rows)


def test_report_only_mode_does_not_raise(tmp_path):
    missing = pd.DataFrame({"fare": [1.0, 2.0]})
    result, table, error = _run(tmp_path, {"train": missing}, halt=0)
    assert error is None
    assert [r["feature"] for r in table["anomalies"]] == ["payment_type"]
    assert result.get_int_custom_property("passed") == 0


SCHEMA = """
feature { name: "fare" type: FLOAT float_domain { min: 0 max: 1000 } }
feature { name: "payment_type" type: BYTES domain: "payment_type"
          distribution_constraints { min_domain_mass: 0.99 } }
string_domain { name: "payment_type" value: "Cash" value: "Card" }
"""


def _validated(tmp_path, frame):
    """Anomalies, statistics and schema artifacts of one split 'train', as the pipeline has."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
    stats = tfdv.generate_statistics_from_dataframe(frame)
    artifacts = {}
    for name, message, file in [
            ("anomalies", tfdv.validate_statistics(stats, schema), "SchemaDiff.pb"),
            ("statistics", stats, "FeatureStats.pb")]:
        folder = tmp_path / name / "Split-train"
        folder.mkdir(parents=True)
        (folder / file).write_bytes(message.SerializeToString())
        artifact = (standard_artifacts.ExampleAnomalies() if name == "anomalies"
                    else standard_artifacts.ExampleStatistics())
        artifact.uri = str(tmp_path / name)
        artifact.split_names = artifact_utils.encode_split_names(["train"])
        artifacts[name] = [artifact]
    schema_artifact = standard_artifacts.Schema()
    schema_artifact.uri = str(tmp_path / "schema")
    os.makedirs(schema_artifact.uri)
    (tmp_path / "schema" / "schema.pbtxt").write_text(text_format.MessageToString(schema))
    artifacts["schema"] = [schema_artifact]
    return artifacts


def _gate(tmp_path, inputs, **rules):
    result = DataValidationResult()
    result.uri = str(tmp_path / "result")
    os.makedirs(result.uri)
    error = None
    try:
        Executor().Do(inputs, {"result": [result]}, {"rules": encode(GateRules(**rules))})
    except DataValidationError as raised:
        error = raised
    with open(os.path.join(result.uri, "result.json")) as handle:
        return result, json.load(handle), error


def test_rows_show_observed_values_and_thresholds(tmp_path):
    frame = pd.DataFrame({
        "fare": [-5.0, 2.0, 3.0, 4.0] * 5,
        "payment_type": ["Cash", "Card", "Bitcoin", "Cash"] * 5,
        "surprise": ["x"] * 20,
    })
    inputs = _validated(tmp_path, frame)
    result, table, error = _gate(tmp_path, inputs,
                                 report_only=("SCHEMA_NEW_COLUMN",))
    rows = {r["feature"]: r for r in table["anomalies"]}
    assert rows["fare"]["kind"] == "FLOAT_TYPE_SMALL_FLOAT"
    assert (rows["fare"]["observed"], rows["fare"]["threshold"]) == ("min -5", ">= 0")
    assert rows["payment_type"]["kind"] == "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    assert rows["payment_type"]["observed"] == "25% unseen"
    assert rows["payment_type"]["threshold"] == "<= 1% unseen"
    # A new column is reported, but only the others halt the run.
    assert rows["surprise"]["kind"] == "SCHEMA_NEW_COLUMN"
    assert rows["surprise"]["severity"] == "report" and rows["fare"]["severity"] == "halt"
    assert rows["surprise"]["observed"] == "in 20 of 20 examples"
    assert error is not None and "surprise" not in str(error) and "2 data anomalies" in str(error)


def test_a_reported_only_anomaly_lets_the_run_pass(tmp_path):
    frame = pd.DataFrame({"fare": [1.0, 2.0], "payment_type": ["Cash", "Card"],
                          "surprise": ["x", "y"]})
    result, table, error = _gate(tmp_path, _validated(tmp_path, frame),
                                 report_only=("SCHEMA_NEW_COLUMN",))
    assert error is None and table["passed"] is True
    assert [r["kind"] for r in table["anomalies"]] == ["SCHEMA_NEW_COLUMN"]


def test_exceeded_drift_halts_and_the_validated_span_is_recorded(tmp_path):
    frame = pd.DataFrame({"fare": [1.0, 2.0], "payment_type": ["Cash", "Card"]})
    inputs = _validated(tmp_path, frame)
    drift = tmp_path / "drift"
    drift.mkdir()
    (drift / "drift.json").write_text(json.dumps({
        "span": 7, "previous_span": 6,
        "label": {"feature": "label", "rule": "tips > 0.2 * fare",
                  "previous_distribution": {"0": 0.5, "1": 0.5},
                  "span_distribution": {"0": 0.3, "1": 0.7}},
        "drift": [
            {"feature": "label", "comparator": "infinity_norm", "value": 0.2,
             "threshold": 0.18, "exceeded": True, "span": 7, "previous_span": 6},
            {"feature": "fare", "comparator": "jensen_shannon_divergence", "value": 0.05,
             "threshold": 0.5, "exceeded": False, "span": 7, "previous_span": 6}],
        "skew": [{"feature": "fare", "comparator": "jensen_shannon_divergence", "value": 0.3,
                  "threshold": 0.1, "exceeded": True, "splits": ["train", "eval"],
                  "spans": [5, 6, 7]}],
    }))
    drift_artifact, examples = DataDriftReport(), standard_artifacts.Examples()
    drift_artifact.uri = str(drift)
    examples.uri, examples.id = str(tmp_path / "examples"), 42
    examples.set_int_custom_property("span", 7)
    result, table, error = _gate(tmp_path, {**inputs, "drift": [drift_artifact],
                                            "examples": [examples]})
    assert error is not None and "label" in str(error)
    [label, skew] = table["anomalies"]
    assert label["kind"] == "COMPARATOR_L_INFTY_HIGH" and label["split"] == "all"
    assert (label["observed"], label["threshold"]) == ("0.2000", "<= 0.18")
    assert "0:50%/1:50% -> 0:30%/1:70%" in label["description"]
    assert "span 7 and the previous span 6" in label["description"]
    assert skew["kind"] == "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
    assert skew["split"] == "train/eval" and "spans 5-7" in skew["description"]
    assert (table["span"], table["examples_id"]) == (7, 42)
    assert result.get_int_custom_property("span") == 7
    assert result.get_int_custom_property("examples_id") == 42



def _drift_report(tmp_path, content: dict) -> DataDriftReport:
    folder = tmp_path / "drift"
    folder.mkdir()
    (folder / "drift.json").write_text(json.dumps({"span": 3, "previous_span": 2, **content}))
    artifact = DataDriftReport()
    artifact.uri = str(folder)
    return artifact


def test_a_new_label_class_halts_naming_the_class_and_its_count(tmp_path):
    inputs = _validated(tmp_path, GOOD)
    drift = _drift_report(tmp_path, {"label": {
        "feature": "label", "rule": "species", "known_classes": ["setosa", "virginica"],
        "new_classes": {"hybrid": 3}}, "drift": [], "skew": []})
    _, table, error = _gate(tmp_path, {**inputs, "drift": [drift]})
    [row] = table["anomalies"]
    assert (row["kind"], row["feature"], row["observed"]) == ("LABEL_NEW_CLASS", "label",
                                                               "3 example(s)")
    assert "'hybrid' (3 example(s) in span 3)" in row["description"]
    assert "2 classes of the spans before it (setosa, virginica)" in row["description"]
    assert error is not None
    _, table, error = _gate(tmp_path / "again", {**inputs, "drift": [drift]},
                            report_only=("LABEL_NEW_CLASS",))
    assert error is None and table["anomalies"][0]["severity"] == "report"


def test_a_regression_labels_shift_is_said_in_its_units_and_unjudged_drift_passes(tmp_path):
    inputs = _validated(tmp_path, GOOD)
    shift = {"feature": "label", "comparator": "mean_shift", "value": 2.1, "threshold": 0.5,
             "exceeded": True, "span": 3, "previous_span": 2, "means": [150.0, 300.0],
             "previous_std": 71.4, "judged": True}
    small = {"feature": "fare", "comparator": "jensen_shannon_divergence", "value": 0.9,
             "threshold": 0.3, "exceeded": True, "span": 3, "previous_span": 2,
             "judged": False, "note": "not judged: 1 example(s) in the smaller span"}
    drift = _drift_report(tmp_path, {"label": {"feature": "label", "rule": "progression"},
                                     "drift": [shift, small], "skew": []})
    _, table, error = _gate(tmp_path, {**inputs, "drift": [drift]})
    [row] = table["anomalies"]  # the unjudged fare drift is not a row
    assert row["kind"] == "LABEL_MEAN_SHIFT_HIGH"
    assert row["description"].startswith(
        "the label (progression) moved from a mean of 150 in span 2 to 300 in span 3 (+150, "
        "2.10 standard deviations of the previous span's label), above 0.5")
    assert "class" not in row["description"]


def test_an_empty_split_halts_unless_reported_only(tmp_path):
    inputs = _validated(tmp_path, GOOD)
    statistics = inputs["statistics"][0]
    (tmp_path / "statistics" / "Split-eval").mkdir()
    (tmp_path / "statistics" / "Split-eval" / "FeatureStats.pb").write_bytes(
        tfdv.generate_statistics_from_dataframe(GOOD.iloc[:0]).SerializeToString())
    anomalies = inputs["anomalies"][0]
    anomalies.split_names = artifact_utils.encode_split_names(["train", "eval"])
    statistics.split_names = anomalies.split_names
    (tmp_path / "anomalies" / "Split-eval").mkdir()
    (tmp_path / "anomalies" / "Split-eval" / "SchemaDiff.pb").write_bytes(b"")
    _, table, error = _gate(tmp_path, inputs)
    [row] = table["anomalies"]
    assert (row["split"], row["kind"], row["observed"]) == ("eval", "EMPTY_SPLIT", "0 examples")
    assert error is not None
    _, _, error = _gate(tmp_path / "again", inputs, report_only=("EMPTY_SPLIT",))
    assert error is None


if __name__ == "__main__":
    pytest.main([__file__])
