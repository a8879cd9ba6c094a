"""The checks of a loaded config's values: ranges, choices, and how sections fit together.

Each failed check is a `ConfigError` naming the key and what it must be, in one line.
"""

from __future__ import annotations

import datetime
import math
import os
import re
from pathlib import Path

from pipeline.config.catalogue import (
    BASELINES,
    METRICS,
    OPTIMIZATION_VARIANTS,
    TASK_KINDS,
    TUNING_OBJECTIVES,
    VARIANT_METRICS,
)
from pipeline.config.errors import ConfigError
from pipeline.config.paths import system_folder, unsafe_name
from pipeline.config.sections import (
    AUTO,
    BEAM_MODES,
    BEAM_RUNNERS,
    IMPUTE_KINDS,
    JOB_SERVER_RUNNERS,
    LOCAL_CLUSTERS,
    MODEL_TYPES,
    NEW_COLUMN_ACTIONS,
    SCHEDULE_PRESETS,
    TFX_TAXI_SOURCE,
    TUNING_ALGORITHMS,
    Config,
    RangeSection,
)
from pipeline.modules.features import safe_name


class _Checker:
    """Raises a ConfigError naming the config file when a check fails."""

    def __init__(self, where: str):
        self.where = where

    def __call__(self, ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"{self.where}: {message}")

    def one_of(self, value: str, allowed: tuple[str, ...], key: str) -> None:
        self(value in allowed, f"'{key}' must be one of {', '.join(allowed)}, got '{value}'")


def validate(config: Config, where: str) -> None:
    """Every check of the config's values; the first that fails raises a ConfigError."""
    check = _Checker(where)
    for section_checks in (_names_and_roots, _pipeline_and_beam, _model_and_transform,
                           _label_and_features, _evaluation, _validate_optimization,
                           _data_and_gates, _schedule, _tuning, _tuning_space):
        section_checks(config, check)


def _names_and_roots(config: Config, check: _Checker) -> None:
    """Names that are one folder each, roots that are not the system's folders."""
    for key, name in (("pipeline.name", config.pipeline.name),
                      ("pipeline.model_name", config.pipeline.model_name)):
        problem = unsafe_name(name)
        check(problem is None, f"'{key}' {problem}, got {name!r}")
    for key, path in (("pipeline.output_root", config.pipeline.output_root),
                      ("data.dir", config.data.dir)):
        system = system_folder(path)
        check(system is None, f"'{key}' is {path}, which is the system folder {system} or "
              "inside it: choose a folder of your own (--output-root for the output)")
    root = Path(config.pipeline.output_root)
    blocker = next((p for p in (root, *root.parents) if p.exists()), root)
    check(blocker.is_dir(), f"'pipeline.output_root' is {root}, but {blocker} is a file, not a "
          "folder: choose another output root (--output-root)")


def _pipeline_and_beam(config: Config, check: _Checker) -> None:
    check(config.pipeline.parallel_components >= 1,
          "'pipeline.parallel_components' must be >= 1 (1 = one component at a time)")
    check(config.split.train > 0 and config.split.eval > 0,
          "'split.train' and 'split.eval' must be positive hash-bucket counts")
    check.one_of(config.beam.runner, BEAM_RUNNERS, "beam.runner")
    check.one_of(config.beam.direct_running_mode, BEAM_MODES, "beam.direct_running_mode")
    check(config.beam.direct_num_workers >= 0,
          "'beam.direct_num_workers' must be >= 0 (0 = all cores)")
    runner = config.beam.runner
    name, port = LOCAL_CLUSTERS.get(runner, ("", 8099))
    example = f"'localhost:{port}'" + (f" as 'make {name}' starts it" if name else "")
    check(runner not in JOB_SERVER_RUNNERS or bool(config.beam.job_endpoint),
          f"'beam.job_endpoint' is required with runner = '{runner}': the job server's "
          f"address, e.g. {example}")
    check(config.beam.parallelism >= 0, "'beam.parallelism' must be >= 0 (0 = the cluster's)")


def _model_and_transform(config: Config, check: _Checker) -> None:
    check.one_of(config.model.type, MODEL_TYPES, "model.type")
    check.one_of(config.transform.impute, IMPUTE_KINDS, "transform.impute")
    check.one_of(config.model.class_weight, ("balanced", "none"), "model.class_weight")
    check(0.0 <= config.model.dropout < 1.0, "'model.dropout' must be in [0, 1)")
    check(config.model.l2 >= 0.0, "'model.l2' must be >= 0")
    check(config.model.learning_rate > 0.0, "'model.learning_rate' must be > 0")
    for key in ("batch_size", "train_steps", "steps_per_epoch", "eval_steps", "embedding_dim"):
        check(getattr(config.model, key) > 0, f"'model.{key}' must be a positive integer")
    check(all(u > 0 for u in config.model.hidden_units) and bool(config.model.hidden_units),
          "'model.hidden_units' must be a non-empty list of positive integers")
    check(config.transform.vocab_size > 0 and config.transform.oov_buckets > 0,
          "'transform.vocab_size' and 'transform.oov_buckets' must be positive")


def _label_and_features(config: Config, check: _Checker) -> None:
    check.one_of(config.label.kind, TASK_KINDS, "label.kind")
    derive = config.label.derive
    if derive is not None:
        check.one_of(derive.type, ("ratio_above",), "label.derive.type")
        check(config.label.kind == "binary", "'label.derive' is only for label.kind = 'binary'")
    check(config.label.positive_values is None or config.label.kind == "binary",
          "'label.positive_values' is only for label.kind = 'binary'")
    check(config.model.class_weight == "none" or config.label.kind != "regression",
          "'model.class_weight' = 'balanced' is for binary and multiclass labels: a regression "
          "label has no classes to weigh; remove it")
    features = config.all_features
    check(bool(features), "no features: list some under [features] numeric or categorical")
    seen: set[str] = set()
    for feature in features:
        check(feature not in seen, f"feature '{feature}' is listed twice under [features]")
        seen.add(feature)
    check(config.label.column not in seen,
          f"label column '{config.label.column}' is listed as a feature: it would give the "
          "label away; remove it from [features]")
    for feature, buckets in config.features.bucketize.items():
        check(feature in config.features.numeric,
              f"'features.bucketize.{feature}' must name a numeric feature")
        check(buckets >= 2, f"'features.bucketize.{feature}' must be at least 2 buckets")
    by_name: dict[str, str] = {}
    for feature in features:
        other = by_name.setdefault(safe_name(feature), feature)
        check(other == feature, f"features '{other}' and '{feature}' would be the same model "
              f"input ('{safe_name(feature)}': names keep letters, digits and '_'); rename one")


def _evaluation(config: Config, check: _Checker) -> None:
    check(0.0 < config.evaluation.decision_threshold < 1.0,
          "'evaluation.decision_threshold' must be strictly between 0 and 1")
    for sliced in config.evaluation.slices:
        check(bool(sliced), "'evaluation.slices' entries must name at least one column")
    sliced_by = {frozenset(columns) for columns in config.evaluation.slices}
    for key in config.evaluation.key_slices:
        check(frozenset(key) in sliced_by,
              f"key slice {key} is not among the evaluated slices: add "
              f"{sorted(key)} to 'evaluation.slices' or name columns of one of its entries")
    check(math.isfinite(config.evaluation.min_lift) and config.evaluation.min_lift >= 0.0,
          f"'evaluation.min_lift' must be a number >= 0 (0: the model must beat the best naive "
          f"baseline), got {config.evaluation.min_lift}")
    margin = config.evaluation.chance_margin
    check(math.isfinite(margin) and margin >= 0.0,
          f"'evaluation.chance_margin' must be a number of standard errors >= 0 (0: no margin "
          f"for chance), got {margin}")
    baselines = BASELINES[config.label.kind]
    for name in config.evaluation.lift_over:
        check(name in baselines, f"'evaluation.lift_over' names '{name}', not a naive baseline "
              f"of a {config.label.kind} label; choose from {', '.join(baselines)}")
    metrics = METRICS[config.label.kind]
    for metric in [*config.evaluation.metrics, *config.evaluation.thresholds]:
        check(metric in metrics, f"metric '{metric}' is not available for a {config.label.kind} "
              f"label; choose from {', '.join(metrics)}")
    for metric, bounds in config.evaluation.thresholds.items():
        check(any(v is not None for v in (bounds.lower_bound, bounds.upper_bound,
                                           bounds.max_change)),
              f"'evaluation.thresholds.{metric}' sets no bound")
        check(bounds.max_change is None or bounds.max_change >= 0,
              f"'evaluation.thresholds.{metric}.max_change' is the allowed loss against the "
              "baseline and must be >= 0")


def _data_and_gates(config: Config, check: _Checker) -> None:
    delimiter = config.data.delimiter
    check(delimiter == AUTO or (len(delimiter) == 1 and delimiter not in ('"', "\n", "\r")),
          f"'data.delimiter' must be 'auto' or one character other than a quote or a line "
          f"break, got {delimiter!r}")
    for column in config.data.text_columns:
        check(column in config.features.categorical,
              f"'data.text_columns' names '{column}', which is not in [features] categorical: "
              "only a categorical column can be read as text")
    source = config.data.source
    check(source == TFX_TAXI_SOURCE or os.path.exists(source),
          f"data source not found: {source} (set 'data.source' to a CSV file or folder, "
          f"or '{TFX_TAXI_SOURCE}')")
    check(config.spans.span >= 0, "'spans.span' must be >= 0 (0 = the newest span)")
    check(config.spans.window >= 1, "'spans.window' must be at least 1 span")
    check(config.validation.label_drift > 0, "'validation.label_drift' must be > 0")
    check(config.validation.label_shift > 0, "'validation.label_shift' must be > 0 (standard "
          "deviations of the previous span's label)")
    check.one_of(config.validation.new_columns, NEW_COLUMN_ACTIONS, "validation.new_columns")
    check.one_of(config.validation.new_label_classes, NEW_COLUMN_ACTIONS,
                 "validation.new_label_classes")
    check(config.validation.skew_min_examples >= 0,
          "'validation.skew_min_examples' must be >= 0")
    check(config.validation.min_examples >= 0, "'validation.min_examples' must be >= 0")
    check.one_of(config.validation.empty_split, NEW_COLUMN_ACTIONS, "validation.empty_split")
    check(not config.schema.path or os.path.isfile(config.schema.path),
          f"schema file not found: {config.schema.path} (fix 'schema.path' or remove it)")


def _validate_optimization(config: Config, check: _Checker) -> None:
    opt = config.optimization
    check(bool(opt.variants), "'optimization.variants' must name at least one of "
          + ", ".join(OPTIMIZATION_VARIANTS))
    for variant in opt.variants:
        check(variant in OPTIMIZATION_VARIANTS, f"'optimization.variants' entry '{variant}' is "
              f"unknown; choose from {', '.join(OPTIMIZATION_VARIANTS)}")
        check(opt.variants.count(variant) == 1,
              f"'optimization.variants' lists '{variant}' twice")
    check(0.0 < opt.target_sparsity < 1.0,
          "'optimization.target_sparsity' must be strictly between 0 and 1 (0.8 = 80% zeros)")
    for key in ("finetune_steps", "pruning_frequency", "min_slice_examples",
                "min_class_examples", "representative_samples", "latency_calls"):
        check(getattr(opt, key) > 0, f"'optimization.{key}' must be a positive integer")
    check(0 <= opt.pruning_begin_step < opt.pruning_end_step < opt.finetune_steps,
          "the pruning schedule must satisfy 0 <= 'optimization.pruning_begin_step' < "
          "'pruning_end_step' < 'finetune_steps' (fine-tuning goes on after the last pruning step)")
    check((opt.pruning_end_step - opt.pruning_begin_step) % opt.pruning_frequency == 0,
          "'optimization.pruning_end_step' - 'pruning_begin_step' must be a multiple of "
          "'pruning_frequency', or the last pruning step never reaches the target sparsity")
    check(opt.finetune_learning_rate >= 0.0,
          "'optimization.finetune_learning_rate' must be >= 0 (0 = the model's learning_rate)")
    allowed = VARIANT_METRICS[config.label.kind]
    check(not opt.enabled or bool(config.variant_tolerance),
          f"[optimization.tolerance] must set the largest loss allowed for a {config.label.kind} "
          f"label, e.g. {allowed[-1]} = 0.1 (in the label's units)")
    for metric, value in opt.tolerance.items():
        check(metric in allowed, f"'optimization.tolerance.{metric}': a {config.label.kind} "
              f"variant is judged on {', '.join(allowed)}")
        check(value >= 0.0, f"'optimization.tolerance.{metric}' is the allowed loss against the "
              "dense model and must be >= 0")


def _schedule(config: Config, check: _Checker) -> None:
    schedule = config.schedule
    fields = schedule.interval.split()
    check(schedule.interval in SCHEDULE_PRESETS or (len(fields) == 5 and all(
        re.fullmatch(r"[0-9*/,\-A-Za-z?LW#]+", f) for f in fields)),
        f"'schedule.interval' must be one of {', '.join(SCHEDULE_PRESETS)} or a cron expression "
        f"of 5 fields, got {schedule.interval!r}")
    for key, value in (("schedule.start", schedule.start), ("schedule.end", schedule.end)):
        check(not value or _iso_time(value) is not None,
              f"'{key}' must be an ISO date or time such as 2024-01-01, got {value!r}")
    check(not (schedule.start and schedule.end)
          or _iso_time(schedule.start) < _iso_time(schedule.end),
          "'schedule.end' must be after 'schedule.start'")
    check(schedule.first_span >= 1, "'schedule.first_span' must be a span number >= 1")
    check(schedule.wait_minutes >= 0 and schedule.poke_seconds >= 1,
          "'schedule.wait_minutes' must be >= 0 and 'schedule.poke_seconds' >= 1")


def _tuning(config: Config, check: _Checker) -> None:
    tuning = config.tuning
    check.one_of(tuning.algorithm, TUNING_ALGORITHMS, "tuning.algorithm")
    for key in ("trials", "executions_per_trial", "train_steps"):
        check(getattr(tuning, key) > 0, f"'tuning.{key}' must be a positive integer")
    objectives = TUNING_OBJECTIVES[config.label.kind]
    check(not tuning.objective or tuning.objective in objectives,
          f"'tuning.objective' '{tuning.objective}' is not available for a {config.label.kind} "
          f"label; choose from {', '.join(objectives)}")
    sliced = tuning.objective_slice
    check(not sliced or sliced in config.evaluation.key_slices,
          f"'tuning.objective_slice' {sliced} must be one of 'evaluation.key_slices'")
    for column in sliced:
        check(column in config.features.categorical,
              f"'tuning.objective_slice' column '{column}' must be a categorical feature (the "
              "slice is found in the transformed eval rows by its vocabulary id)")
    check(not tuning.enabled or bool(tuning.space.names),
          "[tuning.space] sets no hyperparameter to search: set e.g. learning_rate = "
          "{min = 1e-4, max = 1e-2, log = true}")


def _tuning_space(config: Config, check: _Checker) -> None:
    space = config.tuning.space
    for name, lowest, highest in (("learning_rate", 0.0, None), ("l2", 0.0, None),
                                  ("dropout", 0.0, 1.0)):
        bounds = getattr(space, name)
        if bounds is not None:
            _check_range(bounds, f"tuning.space.{name}", lowest, highest, check)
    check(all(units and all(u > 0 for u in units) for units in space.hidden_units),
          "'tuning.space.hidden_units' must be a list of layer lists, each non-empty with "
          "positive integers, e.g. [[64, 32], [128]]")
    for name in ("batch_size", "embedding_dim"):
        choices = getattr(space, name)
        check(all(v > 0 for v in choices),
              f"'tuning.space.{name}' must be a list of positive integers to choose from")
    for name in ("hidden_units", "batch_size", "embedding_dim"):
        choices = [str(v) for v in getattr(space, name)]
        check(len(set(choices)) == len(choices), f"'tuning.space.{name}' lists a choice twice")


def _check_range(bounds: RangeSection, key: str, lowest: float, highest: float | None,
                 check: _Checker) -> None:
    """min < max within [lowest, highest) (learning_rate and l2 above 0 on a log scale)."""
    upper = f" and below {highest}" if highest is not None else ""
    check(lowest <= bounds.min < bounds.max and (highest is None or bounds.max < highest),
          f"'{key}' must have {lowest} <= min < max{upper}, got min = {bounds.min}, "
          f"max = {bounds.max}")
    check(not bounds.log or bounds.min > 0,
          f"'{key}' with log = true needs min > 0, got {bounds.min}")
    check(bounds.step >= 0 and not (bounds.log and bounds.step),
          f"'{key}.step' must be >= 0 (0 = continuous) and is not used with log = true")


def _iso_time(value: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
