"""The Tuner's part of a run's summary, read back from its artifacts in ML Metadata, and the
lines `tfxpipe run` prints of it.

The standard Tuner writes `best_hyperparameters.txt` (a KerasTuner HyperParameters config) and
`tuner_results.json` (the completed trials, best first: trial id, score, values).
"""

from __future__ import annotations

import json
import os
from typing import Any

from components.shared.tfma_metrics import slice_name
from pipeline.config import Config
from pipeline.config.catalogue import TUNING_OBJECTIVES
from pipeline.dag import nodes
from pipeline.modules import space
from pipeline.records.mlmd import NodeRecord

BEST_FILE = "best_hyperparameters.txt"
RESULTS_FILE = "tuner_results.json"
SHOWN_TRIALS = 10


def _read(record: NodeRecord, key: str, name: str) -> Any:
    artifacts = record.outputs.get(key) or []
    path = os.path.join(artifacts[0].uri, name) if artifacts else ""
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def tuning_part(config: Config, records: dict[str, NodeRecord]) -> dict[str, Any]:
    """{"tuning": ...} when the run had a Tuner: its objective, state, trials and best values;
    {} otherwise."""
    tuner = records.get(nodes.TUNER)
    if tuner is None:
        return {}
    objective = config.tuning_objective
    results = _read(tuner, "tuner_results", RESULTS_FILE) or []
    trials = [{"trial_id": r.get("trial_id"), "score": r.get("score"),
               "values": space.tuned_values({"values": r})} for r in results]
    best = _read(tuner, "best_hyperparameters", BEST_FILE)
    best_artifacts = tuner.outputs.get("best_hyperparameters") or []
    return {"tuning": {
        "state": tuner.state, "seconds": round(tuner.seconds, 1),
        "algorithm": config.tuning.algorithm, "objective": objective,
        "objective_slice": dict(config.tuning.objective_slice) or None,
        "higher_is_better": TUNING_OBJECTIVES[config.label.kind][objective],
        "trials": trials, "best": space.tuned_values(best) if best else None,
        "best_hyperparameters_id": best_artifacts[0].id if best_artifacts else None}}


def value_text(values: dict[str, Any]) -> str:
    """name=value, ... with a hidden_units list as 64,32 and floats to 4 significant digits."""
    def one(value: Any) -> str:
        if isinstance(value, list):
            return space.units_text(value)
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}={one(value)}" for name, value in values.items())


def tuning_lines(summary: dict[str, Any]) -> list[str]:
    """The Tuner's lines of the end-of-run report: objective, then the trials, best first."""
    tuning = summary.get("tuning")
    if not tuning:
        return []
    on = f" on {slice_name(tuning['objective_slice'])}" if tuning["objective_slice"] else ""
    direction = "higher" if tuning["higher_is_better"] else "lower"
    state = {"CACHED": "cached: same data and space, not tuned again",
             "COMPLETE": f"{tuning['seconds']:.1f} s"}.get(tuning["state"], tuning["state"])
    trials = tuning["trials"]
    lines = [f"tuning: {tuning['algorithm']}, {len(trials)} trial(s), objective "
             f"{tuning['objective']}{on} ({direction} is better); {state}"]
    for rank, trial in enumerate(trials[:SHOWN_TRIALS]):
        score = "-" if trial["score"] is None else f"{trial['score']:.4f}"
        mark = "  <- best: the Trainer's" if rank == 0 else ""
        lines.append(f"  trial {trial['trial_id']:<6} {score}  {value_text(trial['values'])}"
                     f"{mark}")
    if len(trials) > SHOWN_TRIALS:
        lines.append(f"  ... and {len(trials) - SHOWN_TRIALS} more (summary.json)")
    return lines
