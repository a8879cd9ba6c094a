"""NaiveBaselines' executor, the lift gate: the model's gated metric on the overall slice
against the best of the baselines BaselineScores evaluated; the baselines' record with the
verdict, and the blessing that counts (the Evaluator's and the gate's)."""

from __future__ import annotations

import os
from typing import Any

from absl import logging
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.naive_baselines.params import BaselineSettings
from components.naive_baselines.verdict import Chance, lift_verdict
from components.shared.artifacts import (
    NaiveBaselineMetrics,
    NaiveBaselineScores,
    read_json,
    write_json,
)
from components.shared.params import decode
from components.shared.tfma_metrics import read_metrics

SETTINGS_KEY = "settings"
CODE_FINGERPRINT_KEY = "code_fingerprint"


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        settings = decode(exec_properties[SETTINGS_KEY], BaselineSettings)
        scores_artifact = artifact_utils.get_single_instance(input_dict["scores"])
        scores = read_json(scores_artifact.uri, NaiveBaselineScores.FILE)
        if scores is None:
            raise RuntimeError(f"the baselines' scores are missing from {scores_artifact.uri} "
                               "(a run killed while writing them?): run the pipeline again")
        record = {**scores, **_judge(settings, input_dict, scores["slices"])}
        _bless(input_dict, output_dict, record)
        output = artifact_utils.get_single_instance(output_dict["baselines"])
        write_json(output.uri, NaiveBaselineMetrics.FILE, record)
        for key in ("lift", "best_value"):
            if record[key] is not None:
                output.set_float_custom_property(key, record[key])
        output.set_string_custom_property("best_baseline", record["best_baseline"] or "")
        output.set_int_custom_property("passed", int(record["passed"] is not False))


def _judge(settings: BaselineSettings, input_dict: dict[str, list[types.Artifact]],
           slices: list[dict[str, Any]]) -> dict[str, Any]:
    evaluation = artifact_utils.get_single_instance(input_dict["model_evaluation"])
    model_rows = read_metrics(evaluation.uri)
    model_value = model_rows[0].candidate.get(settings.metric) if model_rows else None
    overall = next((s["metrics"] for s in slices if not s["slice"]), {})
    counts = next(iter(overall.values()), {})  # every baseline is scored on the same rows
    verdict = lift_verdict(model_value,
                           {n: m.get(settings.metric) for n, m in overall.items()
                            if not settings.gated or n in settings.gated},
                           settings.higher_is_better, settings.min_lift,
                           Chance(settings.chance_margin, settings.metric, counts))
    return {"metric": settings.metric, "higher_is_better": settings.higher_is_better,
            "min_lift": settings.min_lift, "chance_margin": settings.chance_margin,
            "gated": sorted(settings.gated or overall), "model_value": model_value, **verdict}


def _bless(input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], record: dict[str, Any]) -> None:
    """The Evaluator's blessing, and the lift gate's: blessed only when both pass."""
    evaluator = artifact_utils.get_single_instance(input_dict["model_blessing"])
    blessing = artifact_utils.get_single_instance(output_dict["blessing"])
    for key, value in evaluator.mlmd_artifact.custom_properties.items():
        blessing.mlmd_artifact.custom_properties[key].CopyFrom(value)
    record["evaluator_blessed"] = bool(model_utils.is_model_blessed(evaluator))
    blessed = record["evaluator_blessed"] and record["passed"] is not False
    record["blessed"] = blessed
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_int_custom_property("evaluator_blessed", int(record["evaluator_blessed"]))
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED"),
                     "w") as handle:
        handle.write("")
    logging.info("Naive baselines: lift %s over %s on %s; blessed %s", record["lift"],
                 record["best_baseline"], record["metric"], blessed)
