"""The pipeline's one typed, validated configuration.

A pipeline is described by one TOML file (see `pipeline/configs/`). `load_config` parses it into
frozen dataclasses and rejects, with one precise line each, unknown keys, wrong types, missing
files and features that are not in the data. Relative paths are resolved against the project root
(the nearest folder above the config file that holds a pyproject.toml), so outputs land inside the
project whatever the working directory.
"""

from __future__ import annotations

import csv
import difflib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli

TASK_KINDS = ("binary", "multiclass", "regression")
MODEL_TYPES = ("dnn", "wide_deep")
IMPUTE_KINDS = ("mean", "median")
BEAM_MODES = ("in_memory", "multi_threading", "multi_processing")
BEAM_RUNNERS = ("DirectRunner", "PortableRunner")
TFX_TAXI_SOURCE = "tfx:chicago_taxi"
# Optimized variants of the trained model (the [optimization] section).
OPTIMIZATION_VARIANTS = ("pruned", "tflite_dynamic", "tflite_int8")
# Metrics a variant can be judged on (a tolerance per metric): computed by TFMA for the pruned
# SavedModel and by components/variant_evaluator/metrics.py for the TFLite models.
VARIANT_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "auc_pr", "accuracy", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "log_loss"),
    "regression": ("mse", "mae", "rmse"),
}
# Without [optimization.tolerance]: a regression error has the label's units, so it has no default.
DEFAULT_VARIANT_TOLERANCE = {"binary": {"auc": 0.01}, "multiclass": {"accuracy": 0.01}}

# Metric name in the config -> (TFMA metric class, metric key in TFMA results, higher is better).
METRICS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "binary": {
        "auc": ("AUC", "auc", True),
        "auc_pr": ("AUCPrecisionRecall", "auc_precision_recall", True),
        "precision": ("Precision", "precision", True),
        "recall": ("Recall", "recall", True),
        "f1": ("F1Score", "f1_score", True),
        "accuracy": ("BinaryAccuracy", "binary_accuracy", True),
        "calibration": ("Calibration", "calibration", True),
        "example_count": ("ExampleCount", "example_count", True),
    },
    "multiclass": {
        "accuracy": ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", True),
        "log_loss": ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", False),
        "example_count": ("ExampleCount", "example_count", True),
    },
    "regression": {
        "mse": ("MeanSquaredError", "mean_squared_error", False),
        "mae": ("MeanAbsoluteError", "mean_absolute_error", False),
        "rmse": ("RootMeanSquaredError", "root_mean_squared_error", False),
        "example_count": ("ExampleCount", "example_count", True),
    },
}


class ConfigError(ValueError):
    """A problem with the user's configuration; its message is one line that says what to fix."""


@dataclass(frozen=True)
class PipelineSection:
    name: str
    model_name: str = ""
    output_root: str = "outputs"
    enable_cache: bool = True
    parallel_components: int = 2  # components run at once where the graph allows; 1 = in turn


@dataclass(frozen=True)
class DataSection:
    source: str
    dir: str = ""
    pattern: str = "*.csv"
    sample_rows: int = 0


@dataclass(frozen=True)
class SplitSection:
    train: int = 3
    eval: int = 1


@dataclass(frozen=True)
class DeriveSection:
    type: str
    denominator: str
    threshold: float


@dataclass(frozen=True)
class LabelSection:
    column: str
    kind: str
    derive: DeriveSection | None = None
    positive_values: list[str] | None = None


@dataclass(frozen=True)
class FeaturesSection:
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    bucketize: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformSection:
    impute: str = "mean"
    vocab_size: int = 1000
    oov_buckets: int = 10


@dataclass(frozen=True)
class ModelSection:
    type: str = "wide_deep"
    hidden_units: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.2
    l2: float = 1e-4
    embedding_dim: int = 8
    learning_rate: float = 1e-3
    batch_size: int = 256
    train_steps: int = 2000
    steps_per_epoch: int = 200
    eval_steps: int = 50
    early_stopping_patience: int = 3
    seed: int = 42
    class_weight: str = "none"


@dataclass(frozen=True)
class ThresholdSection:
    lower_bound: float | None = None
    upper_bound: float | None = None
    max_change: float | None = None


@dataclass(frozen=True)
class EvaluationSection:
    decision_threshold: float = 0.5
    slices: list[list[str]] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    thresholds: dict[str, ThresholdSection] = field(default_factory=dict)
    min_slice_examples: int = 30


@dataclass(frozen=True)
class BeamSection:
    runner: str = "DirectRunner"
    direct_running_mode: str = "in_memory"
    direct_num_workers: int = 1
    job_endpoint: str = ""
    extra_args: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaSection:
    path: str = ""


@dataclass(frozen=True)
class OptimizationSection:
    """Pruning and quantization of the trained model, each variant judged against the dense one."""

    enabled: bool = False
    variants: list[str] = field(default_factory=lambda: list(OPTIMIZATION_VARIANTS))
    target_sparsity: float = 0.8
    finetune_steps: int = 1000
    pruning_begin_step: int = 0
    pruning_end_step: int = 600
    pruning_frequency: int = 50
    finetune_learning_rate: float = 0.0  # 0: the model's learning_rate
    tolerance: dict[str, float] = field(default_factory=dict)  # {}: the task's default
    min_slice_examples: int = 100
    min_class_examples: int = 10
    representative_samples: int = 200
    latency_calls: int = 1000


@dataclass(frozen=True)
class SpansSection:
    """Which span a run processes and how many spans it trains on (see pipeline/spans.py)."""

    span: int = 0                 # 0 = the newest span in the data; N = span N (backfill, replay)
    window: int = 1               # Transform/Trainer/Evaluator read the last `window` spans


NEW_COLUMN_ACTIONS = ("halt", "report")


@dataclass(frozen=True)
class ValidationSection:
    """Data gates beyond the curated schema (whose comparators hold the feature thresholds)."""

    label_drift: float = 0.18     # label distribution vs the previous span (L-infinity; JS for
    #                               regression labels): a 50/50 -> 70/30 move is 0.20
    new_columns: str = "halt"     # a column the schema does not know: "halt" or "report"
    skew_min_examples: int = 1000  # train-vs-eval skew halts only when both splits are this big


@dataclass(frozen=True)
class Config:
    """The whole pipeline configuration, paths already resolved to absolute ones."""

    pipeline: PipelineSection
    data: DataSection
    label: LabelSection
    features: FeaturesSection
    split: SplitSection = SplitSection()
    transform: TransformSection = TransformSection()
    model: ModelSection = ModelSection()
    evaluation: EvaluationSection = EvaluationSection()
    beam: BeamSection = BeamSection()
    schema: SchemaSection = SchemaSection()
    optimization: OptimizationSection = OptimizationSection()
    spans: SpansSection = SpansSection()
    validation: ValidationSection = ValidationSection()
    config_path: str = ""
    project_root: str = ""

    # Derived locations: every output lives under one root.
    @property
    def output_root(self) -> Path:
        return Path(self.pipeline.output_root)

    @property
    def pipeline_root(self) -> Path:
        return self.output_root / self.pipeline.name / "pipeline_root"

    @property
    def metadata_path(self) -> Path:
        return self.output_root / self.pipeline.name / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        return self.output_root / self.pipeline.name / "serving"

    @property
    def runs_dir(self) -> Path:
        return self.output_root / self.pipeline.name / "runs"

    @property
    def data_dir(self) -> Path:
        return Path(self.data.dir)

    @property
    def all_features(self) -> list[str]:
        return [*self.features.numeric, *self.features.categorical]

    def metric_spec(self, name: str) -> tuple[str, str, bool]:
        return METRICS[self.label.kind][name]

    @property
    def variant_tolerance(self) -> dict[str, float]:
        """The largest loss per metric an optimized variant may have (the task's default if
        [optimization.tolerance] is not set)."""
        return (self.optimization.tolerance
                or DEFAULT_VARIANT_TOLERANCE.get(self.label.kind, {}))

    def module_config(self, code_fingerprint: str = "") -> dict[str, Any]:
        """The JSON-friendly dict that Transform and Trainer receive as custom_config."""
        derive = self.label.derive
        return {
            "label": {
                "column": self.label.column,
                "kind": self.label.kind,
                "derive": None if derive is None else _asdict(derive),
                "positive_values": self.label.positive_values,
            },
            "features": _asdict(self.features),
            "transform": _asdict(self.transform),
            "model": _asdict(self.model),
            "code_fingerprint": code_fingerprint,
        }


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# ---------------------------------------------------------------------------------------------
# Loading and type checking


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding a pyproject.toml, else the working dir."""
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path.cwd()


def load_config(path: str | os.PathLike[str], output_root: str | None = None) -> Config:
    """Parses and validates a TOML config; raises ConfigError with one precise line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path} (pass --config with an existing .toml)")
    try:
        raw = tomli.loads(path.read_text(encoding="utf-8"))
    except (tomli.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    root = find_project_root(path.resolve().parent)
    config = _build(Config, raw, prefix="", where=path.name)
    config = _resolve(config, path.resolve(), root, output_root)
    _validate(config, where=path.name)
    return config


def _build(cls: type, raw: Any, prefix: str, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{prefix.rstrip('.')}] must be a table")
    known = {f.name: f for f in fields(cls) if f.name not in ("config_path", "project_root")}
    for key in raw:
        if key not in known:
            hint = difflib.get_close_matches(key, list(known), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'{tip}")
    values = {}
    for name, spec in known.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if _is_required(spec):
                raise ConfigError(f"{where}: missing required key '{key}'")
            continue
        values[name] = _coerce(spec.type, raw[name], key, where)
    return cls(**values)


def _is_required(spec: Any) -> bool:
    from dataclasses import MISSING

    return spec.default is MISSING and spec.default_factory is MISSING


_SECTIONS = {
    "PipelineSection": PipelineSection,
    "DataSection": DataSection,
    "SplitSection": SplitSection,
    "DeriveSection": DeriveSection,
    "LabelSection": LabelSection,
    "FeaturesSection": FeaturesSection,
    "TransformSection": TransformSection,
    "ModelSection": ModelSection,
    "ThresholdSection": ThresholdSection,
    "EvaluationSection": EvaluationSection,
    "BeamSection": BeamSection,
    "SchemaSection": SchemaSection,
    "OptimizationSection": OptimizationSection,
    "SpansSection": SpansSection,
    "ValidationSection": ValidationSection,
}


def _coerce(type_str: str, value: Any, key: str, where: str) -> Any:
    """Checks `value` against the dataclass field annotation (a string under postponed eval)."""
    type_str = type_str.replace(" | None", "")
    if value is None:
        return None

    def fail(expected: str) -> ConfigError:
        shown = f"'{value}'" if isinstance(value, str) else repr(value)
        return ConfigError(
            f"{where}: '{key}' must be {expected}, got {type(value).__name__} {shown}"
        )

    if type_str in _SECTIONS:
        return _build(_SECTIONS[type_str], value, f"{key}.", where)
    if type_str == "str":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if type_str == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if type_str == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if type_str == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if type_str.startswith("list[list["):
        if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
            raise fail("a list of lists of strings")
        return [_coerce("list[str]", v, key, where) for v in value]
    if type_str.startswith("list["):
        inner = type_str[5:-1]
        if not isinstance(value, list):
            raise fail(f"a list of {inner}")
        return [_coerce(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if type_str.startswith("dict[str, "):
        inner = type_str[len("dict[str, ") : -1]
        if not isinstance(value, dict):
            raise fail("a table")
        return {k: _coerce(inner, v, f"{key}.{k}", where) for k, v in value.items()}
    raise AssertionError(f"unsupported config type {type_str}")  # a bug in this module


def _resolve(config: Config, config_path: Path, root: Path, output_root: str | None) -> Config:
    """Makes every path absolute (relative ones are under the project root)."""
    from dataclasses import replace

    def absolute(value: str) -> str:
        return str((root / value).resolve()) if value and not os.path.isabs(value) else value

    pipeline = replace(
        config.pipeline,
        model_name=config.pipeline.model_name or config.pipeline.name,
        output_root=str(Path(output_root).resolve()) if output_root
        else absolute(config.pipeline.output_root),
    )
    source = config.data.source
    data_dir = config.data.dir
    if source != TFX_TAXI_SOURCE:
        source = absolute(source)
        data_dir = data_dir or (source if os.path.isdir(source) else os.path.dirname(source))
    data = replace(config.data, source=source,
                   dir=absolute(data_dir or f"data/materialized/{config.pipeline.name}"))
    schema_path = config.schema.path
    if not schema_path and (root / "schemas" / config.pipeline.name / "schema.pbtxt").is_file():
        schema_path = f"schemas/{config.pipeline.name}/schema.pbtxt"
    return replace(
        config,
        pipeline=pipeline,
        data=data,
        schema=SchemaSection(path=absolute(schema_path)),
        config_path=str(config_path),
        project_root=str(root),
    )


# ---------------------------------------------------------------------------------------------
# Semantic checks


def _validate(config: Config, where: str) -> None:
    def check(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {message}")

    def one_of(value: str, allowed: tuple[str, ...], key: str) -> None:
        check(value in allowed, f"'{key}' must be one of {', '.join(allowed)}, got '{value}'")

    name = config.pipeline.name
    check(name.replace("_", "").replace("-", "").isalnum(),
          f"'pipeline.name' must be letters, digits, '_' or '-', got '{name}'")
    check(config.pipeline.parallel_components >= 1,
          "'pipeline.parallel_components' must be >= 1 (1 = one component at a time)")
    check(config.split.train > 0 and config.split.eval > 0,
          "'split.train' and 'split.eval' must be positive hash-bucket counts")
    one_of(config.label.kind, TASK_KINDS, "label.kind")
    one_of(config.model.type, MODEL_TYPES, "model.type")
    one_of(config.transform.impute, IMPUTE_KINDS, "transform.impute")
    one_of(config.model.class_weight, ("balanced", "none"), "model.class_weight")
    one_of(config.beam.runner, BEAM_RUNNERS, "beam.runner")
    one_of(config.beam.direct_running_mode, BEAM_MODES, "beam.direct_running_mode")
    check(config.beam.direct_num_workers >= 0,
          "'beam.direct_num_workers' must be >= 0 (0 = all cores)")
    check(config.beam.runner != "PortableRunner" or bool(config.beam.job_endpoint),
          "'beam.job_endpoint' is required with runner = 'PortableRunner' (e.g. 'localhost:8099')")
    check(0.0 <= config.model.dropout < 1.0, "'model.dropout' must be in [0, 1)")
    check(config.model.l2 >= 0.0, "'model.l2' must be >= 0")
    check(config.model.learning_rate > 0.0, "'model.learning_rate' must be > 0")
    for key in ("batch_size", "train_steps", "steps_per_epoch", "eval_steps", "embedding_dim"):
        check(getattr(config.model, key) > 0, f"'model.{key}' must be a positive integer")
    check(all(u > 0 for u in config.model.hidden_units) and bool(config.model.hidden_units),
          "'model.hidden_units' must be a non-empty list of positive integers")
    check(config.transform.vocab_size > 0 and config.transform.oov_buckets > 0,
          "'transform.vocab_size' and 'transform.oov_buckets' must be positive")
    check(0.0 < config.evaluation.decision_threshold < 1.0,
          "'evaluation.decision_threshold' must be strictly between 0 and 1")

    derive = config.label.derive
    if derive is not None:
        one_of(derive.type, ("ratio_above",), "label.derive.type")
        check(config.label.kind == "binary", "'label.derive' is only for label.kind = 'binary'")
    check(config.label.positive_values is None or config.label.kind == "binary",
          "'label.positive_values' is only for label.kind = 'binary'")

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
    for sliced in config.evaluation.slices:
        check(bool(sliced), "'evaluation.slices' entries must name at least one column")

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

    _validate_optimization(config, check)

    source = config.data.source
    check(source == TFX_TAXI_SOURCE or os.path.exists(source),
          f"data source not found: {source} (set 'data.source' to a CSV file or folder, "
          f"or '{TFX_TAXI_SOURCE}')")
    check(config.spans.span >= 0, "'spans.span' must be >= 0 (0 = the newest span)")
    check(config.spans.window >= 1, "'spans.window' must be at least 1 span")
    check(config.validation.label_drift > 0, "'validation.label_drift' must be > 0")
    one_of(config.validation.new_columns, NEW_COLUMN_ACTIONS, "validation.new_columns")
    check(config.validation.skew_min_examples >= 0,
          "'validation.skew_min_examples' must be >= 0")
    check(not config.schema.path or os.path.isfile(config.schema.path),
          f"schema file not found: {config.schema.path} (fix 'schema.path' or remove it)")


def _validate_optimization(config: Config, check: Any) -> None:
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


def check_columns(config: Config, header: list[str], where: str) -> None:
    """Fails when a configured column is not in the data's header (checked once data exists)."""
    columns = set(header)
    needed = {
        **{f: "feature" for f in config.all_features},
        config.label.column: "label column",
        **{c: "slice column" for s in config.evaluation.slices for c in s},
    }
    if config.label.derive is not None:
        needed.setdefault(config.label.derive.denominator, "label denominator")
    for column, role in needed.items():
        if column not in columns:
            hint = difflib.get_close_matches(column, header, n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ConfigError(f"{where}: {role} '{column}' is not a column of the data{tip}")


def read_header(csv_path: Path) -> list[str]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])
