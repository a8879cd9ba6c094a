"""DataGate executor: turns ExampleValidator's Anomalies protos into a table and a verdict."""

from __future__ import annotations

import json
import os
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

ANOMALIES_FILE = "SchemaDiff.pb"
RESULT_FILE = "result.json"


class DataValidationError(RuntimeError):
    """Raised to halt the pipeline; its message starts with the number of anomalies found."""


def read_anomalies(uri: str, split_names: str) -> list[dict[str, str]]:
    """One row per (split, feature, anomaly reason) of an ExampleAnomalies artifact."""
    rows = []
    for split in artifact_utils.decode_split_names(split_names):
        path = os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(anomalies.anomaly_info.items()):
            rows += _rows(split, feature, info)
        if anomalies.HasField("dataset_anomaly_info"):
            rows += _rows(split, "(dataset)", anomalies.dataset_anomaly_info)
    return rows


def _rows(split: str, feature: str, info: anomalies_pb2.AnomalyInfo) -> list[dict[str, str]]:
    reasons = list(info.reason) or [None]
    return [
        {
            "split": split,
            "feature": feature,
            "kind": anomalies_pb2.AnomalyInfo.Type.Name(r.type) if r else "UNKNOWN",
            "short": r.short_description if r else info.short_description,
            "description": r.description if r else info.description,
        }
        for r in reasons
    ]


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        result = artifact_utils.get_single_instance(output_dict["result"])
        rows = read_anomalies(anomalies.uri, anomalies.split_names)
        passed = not rows
        io_utils.write_string_file(
            os.path.join(result.uri, RESULT_FILE),
            json.dumps({"passed": passed, "anomalies": rows}, indent=2, sort_keys=True))
        result.set_int_custom_property("passed", int(passed))
        result.set_int_custom_property("anomaly_count", len(rows))
        if rows and exec_properties.get("halt_on_anomalies", 1):
            features = sorted({r["feature"] for r in rows})
            raise DataValidationError(
                f"{len(rows)} data anomalies in {', '.join(features)}; the run is halted "
                "before Transform and nothing is pushed")
