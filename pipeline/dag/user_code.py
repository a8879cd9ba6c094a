"""The user modules the pipeline runs, and what they are given.

Transform, Trainer and Tuner get the user modules by import path (`preprocessing_fn`, `run_fn`,
`tuner_fn`) and the model-facing part of the config as `custom_config`; the data gates get the
label function (`raw_label`) with the label's section; the optimization stage gets the Trainer
module's path.
TFX does not fingerprint code referenced by import path, so `custom_config` carries a hash of
the modules' folder: editing them is a new input to Transform, Tuner and Trainer, not a cache hit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from components.data_drift import LabelSpec
from components.shared.params import code_fingerprint
from pipeline.config import Config
from pipeline.config.catalogue import TUNING_OBJECTIVES
from pipeline.modules import labels

MODULES_DIR = Path(labels.__file__).resolve().parent
TRANSFORM_MODULE = "pipeline.modules.transform"
TRAINER_MODULE = "pipeline.modules.trainer"
PREPROCESSING_FN = f"{TRANSFORM_MODULE}.preprocessing_fn"
RUN_FN = f"{TRAINER_MODULE}.run_fn"
LABEL_FN = f"{TRANSFORM_MODULE}.raw_label"
TUNER_FN = "pipeline.modules.tuning.tuner_fn"


def modules_fingerprint() -> str:
    """A hash of the user modules' sources: part of Transform's and Trainer's cache key."""
    return code_fingerprint(MODULES_DIR)


def label_config(config: Config) -> dict[str, Any]:
    """The label section as the user modules read it."""
    label = config.label
    return {"column": label.column, "kind": label.kind,
            "derive": dataclasses.asdict(label.derive) if label.derive else None,
            "positive_values": label.positive_values}


def custom_config(config: Config, fingerprint: str = "") -> dict[str, Any]:
    """The JSON-friendly dict Transform and Trainer receive as `custom_config`."""
    return {"label": label_config(config),
            "features": dataclasses.asdict(config.features),
            "transform": dataclasses.asdict(config.transform),
            "model": dataclasses.asdict(config.model),
            "code_fingerprint": fingerprint}


def tuner_config(config: Config, module_config: dict[str, Any]) -> dict[str, Any]:
    """The Tuner's `custom_config`: the Trainer's, plus [tuning] as the Tuner module reads it.
    Only the Tuner gets [tuning]: changing the budget does not retrain an untuned model."""
    tuning = config.tuning
    objective = config.tuning_objective
    return {**module_config, "tuning": {
        "algorithm": tuning.algorithm, "trials": tuning.trials,
        "executions_per_trial": tuning.executions_per_trial, "objective": objective,
        "higher_is_better": TUNING_OBJECTIVES[config.label.kind][objective],
        "objective_slice": dict(tuning.objective_slice),
        "space": dataclasses.asdict(tuning.space)}}


def hyperparameters(config: Config) -> dict[str, Any]:
    """What the manifest records as the model's hyperparameters."""
    return {"model": dataclasses.asdict(config.model),
            "transform": dataclasses.asdict(config.transform)}


def label_spec(config: Config) -> LabelSpec:
    """The label as the data gates measure its drift: computed by the Transform module's own
    function, from the raw columns it reads."""
    section = label_config(config)
    threshold = (config.validation.label_shift if config.label.kind == "regression"
                 else config.validation.label_drift)
    return LabelSpec(function=LABEL_FN, config=section,
                     columns=tuple(labels.source_columns(section)),
                     rule=labels.rule_text(section), kind=config.label.kind,
                     drift_threshold=threshold)
