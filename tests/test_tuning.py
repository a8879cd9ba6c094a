"""The Tuner on the tiny pipeline's transformed data: TFX's Tuner with the project's Tuner module
(two trials), its best hyperparameters reaching the Trainer, and a rerun served from the cache.

A real TFX pipeline (Importers of the tiny artifacts -> Tuner -> Trainer) run by the project's
runner into a real ML Metadata store, twice.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.components import Trainer
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from components.shared.model_contract import KERAS_MODEL_DIR, TRAINING_SUMMARY, TUNED
from pipeline.dag import nodes, user_code
from pipeline.dag.tuning import tuner_node
from pipeline.modules import space
from pipeline.orchestration.runner import ProgressRunner
from pipeline.records.mlmd import open_store, run_nodes
from tests.fixtures.tiny import TinyPipeline

# Every choice differs from the tiny config's [model] (hidden_units [8, 4], embedding_dim 3,
# learning_rate 0.01): whatever trial wins, the Trainer's model shows where its values came from.
SPACE = {"learning_rate": {"min": 0.001, "max": 0.005, "log": True, "step": 0.0},
         "l2": None, "dropout": None, "hidden_units": [[6], [5, 5]], "batch_size": [],
         "embedding_dim": [2, 4]}
TUNING = {"algorithm": "random", "trials": 2, "executions_per_trial": 1,
          "objective": "val_auc", "higher_is_better": True,
          "objective_slice": {"company": "b"}, "space": SPACE}


def _importer(node_id: str, uri: str, kind: type, **properties: str) -> Importer:
    return Importer(source_uri=uri, artifact_type=kind,
                    properties=properties or None).with_id(node_id)


def _pipeline(tiny: TinyPipeline, root: Path) -> Pipeline:
    examples = _importer("examples", tiny.transformed_examples, standard_artifacts.Examples,
                         split_names='["train", "eval"]')
    graph = _importer("graph", tiny.transform_graph, standard_artifacts.TransformGraph)
    schema = _importer("schema", tiny.schema, standard_artifacts.Schema)
    config = copy.deepcopy(tiny.config)
    tuner = tuner_node({**config, "tuning": TUNING}, 4, 2, examples.outputs["result"],
                       graph.outputs["result"], schema.outputs["result"])
    trainer = Trainer(
        run_fn=user_code.RUN_FN, examples=examples.outputs["result"],
        transform_graph=graph.outputs["result"], schema=schema.outputs["result"],
        train_args=trainer_pb2.TrainArgs(num_steps=4), eval_args=trainer_pb2.EvalArgs(num_steps=2),
        hyperparameters=tuner.outputs["best_hyperparameters"], custom_config=config)
    return Pipeline(
        pipeline_name="tuning_test", pipeline_root=str(root / "root"),
        components=[examples, graph, schema, tuner, trainer], enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


@pytest.fixture(scope="module")
def tuned_runs(tiny_pipeline: TinyPipeline, tmp_path_factory) -> tuple[Path, dict, dict]:
    """The pipeline run twice on the same data and space: (folder, run 1's, run 2's nodes)."""
    root = tmp_path_factory.mktemp("tuning")
    runs = []
    for run_id in ("run-1", "run-2"):
        ProgressRunner().run(_pipeline(tiny_pipeline, root), run_id)
        runs.append(run_nodes(open_store(root / "metadata.sqlite"), "tuning_test", run_id))
    return root, runs[0], runs[1]


def _read(artifact, name: str):
    with open(os.path.join(artifact.uri, name)) as handle:
        return json.load(handle)


def test_the_best_trials_hyperparameters_are_what_the_trainer_built_its_model_with(tuned_runs):
    _, first, _ = tuned_runs
    tuner = first[nodes.TUNER]
    assert tuner.state == "COMPLETE"
    trials = _read(tuner.outputs["tuner_results"][0], "tuner_results.json")
    assert len(trials) == 2
    assert all(0.0 <= t["score"] <= 1.0 for t in trials)    # the slice's AUC
    best = _read(tuner.outputs["best_hyperparameters"][0], "best_hyperparameters.txt")
    assert best["values"]["hidden_units"] == max(trials, key=lambda t: t["score"])[
        "hidden_units"]
    tuned = space.tuned_values(best)
    assert set(tuned) == {"learning_rate", "hidden_units", "embedding_dim"}

    trainer = first[nodes.TRAINER]
    assert trainer.inputs["hyperparameters"][0].id == tuner.outputs["best_hyperparameters"][0].id
    model = trainer.outputs["model"][0]
    summary = _read(model, TRAINING_SUMMARY)
    assert summary[TUNED] == tuned
    assert summary["model_config"]["hidden_units"] == tuned["hidden_units"]
    assert summary["model_config"]["learning_rate"] == pytest.approx(tuned["learning_rate"])
    keras_model = tf.keras.models.load_model(os.path.join(model.uri, KERAS_MODEL_DIR),
                                             compile=False)
    hidden = [layer.units for layer in keras_model.layers if layer.name.startswith("hidden_")]
    assert hidden == tuned["hidden_units"]
    embedding = keras_model.get_layer("company_xf_embedding")
    assert embedding.output_dim == tuned["embedding_dim"]


def test_a_rerun_with_the_same_data_and_space_does_not_tune_again(tuned_runs):
    _, first, second = tuned_runs
    assert second[nodes.TUNER].state == "CACHED"
    assert second[nodes.TRAINER].state == "CACHED"
    assert (second[nodes.TUNER].outputs["best_hyperparameters"][0].id
            == first[nodes.TUNER].outputs["best_hyperparameters"][0].id)


def test_the_trials_are_in_the_summary_the_printed_lines_and_the_report_table(tuned_runs, toy):
    from pipeline.config import load_config
    from pipeline.records.render import render
    from pipeline.records.tuning import tuning_part
    from pipeline.review.contract import tuning_table
    from tests.test_config import TUNING

    # The summary reads the objective from the run's config: here the toy one's (slice b=x).
    config = load_config(toy(extra=TUNING))
    _, first, second = tuned_runs
    summary = tuning_part(config, first)["tuning"]
    assert summary["state"] == "COMPLETE" and summary["objective"] == "val_auc"
    assert [t["score"] for t in summary["trials"]] == sorted(
        (t["score"] for t in summary["trials"]), reverse=True)
    assert summary["best"] == summary["trials"][0]["values"]
    lines = render({"tuning": summary}, 0)
    assert lines[1].startswith("tuning: random, 2 trial(s), objective val_auc on b=x "
                               "(higher is better)")
    assert lines[2].endswith("<- best: the Trainer's") and len(lines) == 5
    cached = render(tuning_part(config, second), 0)[1]
    assert cached.endswith("cached: same data and space, not tuned again")
    table = tuning_table({"tuning": summary})
    assert list(table.columns) == ["rank", "trial", "val_auc", "learning_rate", "hidden_units",
                                   "embedding_dim"]
    assert table["rank"].tolist() == [1, 2]
