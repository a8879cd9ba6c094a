"""TFX Tuner module: `tuner_fn` searches [tuning.space] with KerasTuner.

Each trial builds the Trainer's model (`model.build_model`) with [model]'s settings, the
trial's hyperparameters in place of the ones the space sets, trains it on the transformed train
split for `fn_args.train_steps` steps, and is scored on the eval split: on `eval_steps` batches,
or with an objective slice on every eval row of that slice (a key slice over categorical
features, found by their vocabulary ids). Seeded by [model] seed: the same data and space give
the same trials.

`custom_config` is the Trainer's, plus `tuning`: algorithm, trials, executions_per_trial,
objective (a Keras validation metric: val_auc, val_accuracy, val_mae or val_loss),
higher_is_better, objective_slice ({column: value}), space.
"""

from __future__ import annotations

import os
from typing import Any

import keras_tuner as kt
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.tuner.component import TunerFnResult

from pipeline.modules import space
from pipeline.modules.features import cardinalities, safe_name, transformed_name
from pipeline.modules.model import build_model
from pipeline.modules.trainer import dataset, measure_label

SLICE_PREFIX = "val_slice_"  # the objective slice's metrics in a trial's logs


def objective_name(tuning: dict[str, Any]) -> str:
    """The metric trials are compared on: e.g. val_auc, or val_slice_auc on a slice."""
    objective = tuning["objective"]
    if tuning.get("objective_slice"):
        return SLICE_PREFIX + objective[len("val_"):]
    return objective


def tuner_fn(fn_args: Any) -> TunerFnResult:
    """Entry point called by the TFX Tuner (`fn_args` is a tfx FnArgs)."""
    config = fn_args.custom_config
    tuning = config["tuning"]
    seed = int(config["model"]["seed"])
    tf.keras.utils.set_random_seed(seed)
    hypermodel = TrialModel(fn_args, config)
    objective = kt.Objective(objective_name(tuning),
                             "max" if tuning["higher_is_better"] else "min")
    algorithm = tuning["algorithm"]
    if algorithm == "hyperband":
        oracle = kt.oracles.HyperbandOracle(objective, max_epochs=max(2, hypermodel.epochs),
                                            factor=3, hyperband_iterations=1, seed=seed)
    elif algorithm == "bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(
            objective, max_trials=int(tuning["trials"]), seed=seed)
    else:
        oracle = kt.oracles.RandomSearchOracle(objective, max_trials=int(tuning["trials"]),
                                               seed=seed)
    tuner = KerasTrials(oracle, hypermodel, int(tuning["executions_per_trial"]),
                        directory=os.path.join(fn_args.working_dir, "trials"),
                        project_name="tuning", overwrite=True)
    return TunerFnResult(tuner=tuner, fit_kwargs={})


class KerasTrials(kt.engine.base_tuner.BaseTuner):
    """Runs the oracle's trials on the tf-keras model the Trainer trains.

    KerasTuner's own `Tuner` accepts only models of the Keras it imports (Keras 3 here), not
    tf-keras's; this one asks nothing of the model but `fit`. Each execution of a trial trains
    from scratch with the model seed plus its index; its score is the objective at its best
    epoch, averaged over the executions. Hyperband's rounds train `tuner/epochs` epochs from
    scratch (no weights carried over from the round before).
    """

    def __init__(self, oracle: kt.Oracle, hypermodel: TrialModel, executions: int,
                 **kwargs: Any):
        super().__init__(oracle, hypermodel, **kwargs)
        self.executions = max(1, executions)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        hp = trial.hyperparameters
        objective = self.oracle.objective
        best = max if objective.direction == "max" else min
        scores = []
        for execution in range(self.executions):
            tf.keras.backend.clear_session()
            model = self.hypermodel.build_for(hp, execution)
            history = self.hypermodel.fit(hp, model, execution=execution,
                                          epochs=hp.values.get("tuner/epochs"))
            scores.append(best(history.history[objective.name]))
        return {objective.name: float(sum(scores) / len(scores))}


class TrialModel(kt.HyperModel):
    """Builds and trains one trial's model; the data follow the trial's batch size."""

    def __init__(self, fn_args: Any, config: dict[str, Any]):
        super().__init__(name="trial_model")
        self.fn_args, self.config = fn_args, config
        # The Tuner's executor fills in `transform_graph_path` only (the Trainer's both).
        self.output = tft.TFTransformOutput(fn_args.transform_graph_path
                                            or fn_args.transform_output)
        settings = config["model"]
        self.label_info, self.class_weight = measure_label(
            dataset(fn_args, fn_args.train_files, self.output, settings, shuffle=True),
            config, self.output)
        steps = max(1, int(fn_args.train_steps))
        self.steps_per_epoch = min(int(settings["steps_per_epoch"]), steps)
        self.epochs = max(1, steps // self.steps_per_epoch)
        self.eval_steps = max(1, int(fn_args.eval_steps or settings["eval_steps"]))

    def settings(self, hp: kt.HyperParameters, execution: int = 0) -> dict[str, Any]:
        """[model] with the trial's values; the seed moved on by the execution's index."""
        tuned = space.tuned_values({"values": hp.values})
        return {**space.apply(self.config["model"], tuned),
                "seed": int(self.config["model"]["seed"]) + execution}

    def build(self, hp: kt.HyperParameters) -> tf.keras.Model:
        return self.build_for(hp, 0)

    def build_for(self, hp: kt.HyperParameters, execution: int) -> tf.keras.Model:
        space.define(hp, self.config["tuning"]["space"])
        settings = self.settings(hp, execution)
        tf.keras.utils.set_random_seed(settings["seed"])
        sizes = cardinalities(self.config, self.output.vocabulary_size_by_name)
        return build_model({**self.config, "model": settings}, sizes, self.label_info)

    def fit(self, hp: kt.HyperParameters, model: tf.keras.Model, *args: Any,
            execution: int = 0, epochs: int | None = None,
            **kwargs: Any) -> tf.keras.callbacks.History:
        settings = self.settings(hp, execution)
        fn_args = self.fn_args
        train = dataset(fn_args, fn_args.train_files, self.output, settings, shuffle=True)
        evaluation = dataset(fn_args, fn_args.eval_files, self.output, settings,
                             shuffle=False).take(self.eval_steps).cache().repeat()
        sliced = self.config["tuning"].get("objective_slice")
        callbacks = [SliceValidation(self.slice_rows(sliced, settings))] if sliced else []
        return model.fit(train, epochs=int(epochs or self.epochs),
                         steps_per_epoch=self.steps_per_epoch, validation_data=evaluation,
                         validation_steps=self.eval_steps, class_weight=self.class_weight,
                         callbacks=callbacks, verbose=0)

    def slice_rows(self, sliced: dict[str, str], settings: dict[str, Any]) -> tf.data.Dataset:
        """Every eval row of the slice, once, in batches (cached after the first pass)."""
        ids = {transformed_name(column): self._vocabulary_id(column, value)
               for column, value in sliced.items()}

        def inside(features: dict[str, tf.Tensor], _: tf.Tensor) -> tf.Tensor:
            return tf.reduce_all([tf.reduce_all(tf.equal(features[name], i))
                                  for name, i in ids.items()])

        rows = dataset(self.fn_args, self.fn_args.eval_files, self.output, settings,
                       shuffle=False, epochs=1).unbatch().filter(inside)
        return rows.batch(int(settings["batch_size"])).cache()

    def _vocabulary_id(self, column: str, value: str) -> int:
        vocabulary = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                      for v in self.output.vocabulary_by_name(safe_name(column))]
        if value not in vocabulary:
            raise ValueError(f"tuning.objective_slice: '{value}' is not among the values of "
                             f"'{column}' in the training data's vocabulary")
        return vocabulary.index(value)


class SliceValidation(tf.keras.callbacks.Callback):
    """Adds the compiled loss and metric on the slice's eval rows to each epoch's logs, as
    `val_slice_<name>`."""

    def __init__(self, rows: tf.data.Dataset):
        super().__init__()
        self.rows = rows

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        results = self.model.evaluate(self.rows, verbose=0, return_dict=True)
        if not results:
            raise ValueError("tuning.objective_slice: the slice has no eval rows")
        for name, value in results.items():
            logs[SLICE_PREFIX + name] = float(value)

