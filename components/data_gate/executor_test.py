"""DataGate executor on real TFDV anomalies computed from small DataFrames."""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import tensorflow_data_validation as tfdv  # noqa: E402
from tfx.types import artifact_utils, standard_artifacts  # noqa: E402

from components.data_gate.component import DataValidationResult  # noqa: E402
from components.data_gate.executor import DataValidationError, Executor  # noqa: E402

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
        Executor().Do(inputs, {"result": [result]}, {"halt_on_anomalies": halt})
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


if __name__ == "__main__":
    pytest.main([__file__])
