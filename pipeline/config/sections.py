"""The configuration's sections as frozen dataclasses: the one typed description of a pipeline.

A TOML file's tables map to these classes by field name (`[model]` -> `Config.model`,
`[evaluation.thresholds.auc]` -> `EvaluationSection.thresholds["auc"]`); the loader discovers
the sections from the field types, so a new section is a new dataclass and a field of `Config`,
nothing else. Defaults live here; the checks of values live in `checks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from components.csv_example_gen.params import DEFAULT_MISSING_VALUES
from pipeline.config.catalogue import (
    CONSTANT_BASELINES,
    DEFAULT_VARIANT_TOLERANCE,
    METRICS,
    OPTIMIZATION_VARIANTS,
    TUNING_OBJECTIVES,
    USUAL_METRIC,
)
from pipeline.modules import space

MODEL_TYPES = ("dnn", "wide_deep")
IMPUTE_KINDS = ("mean", "median")
BEAM_MODES = ("in_memory", "multi_threading", "multi_processing")
BEAM_RUNNERS = ("DirectRunner", "PortableRunner", "FlinkRunner", "SparkRunner")
JOB_SERVER_RUNNERS = BEAM_RUNNERS[1:]  # each submits its jobs to a job server
# The runners whose cluster and job server `make <name>` (tfxpipe <name> start) starts: the
# name, and the job server's port it listens on by default (pipeline/clusters/).
LOCAL_CLUSTERS = {"FlinkRunner": ("flink", 8099), "SparkRunner": ("spark", 8097)}
NEW_COLUMN_ACTIONS = ("halt", "report")
SCHEDULE_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
TFX_TAXI_SOURCE = "tfx:chicago_taxi"
TUNING_ALGORITHMS = ("random", "bayesian", "hyperband")


@dataclass(frozen=True)
class PipelineSection:
    name: str
    model_name: str = ""
    output_root: str = "outputs"
    enable_cache: bool = True
    parallel_components: int = 2  # components run at once where the graph allows; 1 = in turn


DELIMITERS = (",", ";", "\t", "|")  # what "auto" chooses from, by the header line
AUTO = "auto"


@dataclass(frozen=True)
class DataSection:
    source: str
    dir: str = ""
    pattern: str = "*.csv"
    sample_rows: int = 0
    delimiter: str = AUTO           # or one character: ",", ";", "\t", "|", ...
    # Cells read as missing, case-insensitive, surrounding spaces ignored ("" is the empty cell).
    missing_values: list[str] = field(default_factory=lambda: list(DEFAULT_MISSING_VALUES))
    # Categorical columns read as text whatever their values look like: codes such as "007",
    # which as numbers would be 7.
    text_columns: list[str] = field(default_factory=list)


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
    # The slices that matter most, each {column = "value", ...} over the columns of one of
    # `slices`: shown first in the summary and report (and a tuning objective may name one).
    key_slices: list[dict[str, str]] = field(default_factory=list)
    # The lift gate: the model must beat the best of the naive baselines named in `lift_over`
    # (components/naive_baselines; empty: those that predict a constant) on the ranking
    # metric, overall, by more than this (in the metric's direction).
    min_lift: float = 0.0
    lift_over: list[str] = field(default_factory=list)
    # ... and, for AUC and accuracy, by more than this many standard errors of the metric by
    # chance on the eval split (0: no such margin).
    chance_margin: float = 2.0

    def gated_baselines(self, kind: str) -> tuple[str, ...]:
        return tuple(self.lift_over) or CONSTANT_BASELINES[kind]


@dataclass(frozen=True)
class BeamSection:
    runner: str = "DirectRunner"
    direct_running_mode: str = "in_memory"
    direct_num_workers: int = 1
    job_endpoint: str = ""
    parallelism: int = 0    # FlinkRunner: a job's parallelism; 0: the cluster's default
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
class RangeSection:
    """A numeric hyperparameter's range: `min`..`max`, on a log scale or in steps of `step`."""

    min: float
    max: float
    log: bool = False
    step: float = 0.0             # 0 = continuous


@dataclass(frozen=True)
class SpaceSection:
    """What the Tuner searches: each hyperparameter set here replaces [model]'s value; one left
    out keeps [model]'s."""

    learning_rate: RangeSection | None = None
    l2: RangeSection | None = None
    dropout: RangeSection | None = None
    hidden_units: list[list[int]] = field(default_factory=list)   # choices, e.g. [[64, 32], [128]]
    batch_size: list[int] = field(default_factory=list)           # choices
    embedding_dim: list[int] = field(default_factory=list)        # choices

    @property
    def names(self) -> list[str]:
        """The hyperparameters searched, in this order."""
        return [name for name in space.NAMES if getattr(self, name)]


@dataclass(frozen=True)
class TuningSection:
    """Hyperparameter search with TFX's Tuner (KerasTuner) before the Trainer."""

    enabled: bool = False
    algorithm: str = "random"     # "random", "bayesian" or "hyperband"
    trials: int = 8               # at most this many hyperparameter sets (random, bayesian)
    executions_per_trial: int = 1  # trainings per set, their objective averaged
    objective: str = ""           # "" = the task's: val_auc, val_accuracy or val_mae
    # One of evaluation.key_slices, e.g. {payment_type = "Credit Card"}: the objective is then
    # computed on the eval rows of that slice only. {} = all eval rows.
    objective_slice: dict[str, str] = field(default_factory=dict)
    train_steps: int = 400        # training steps of one trial (hyperband: of its longest)
    space: SpaceSection = SpaceSection()


@dataclass(frozen=True)
class SpansSection:
    """Which span a run processes and how many spans it trains on (see pipeline/inputs/spans.py)."""

    span: int = 0                 # 0 = the newest span in the data; N = span N (backfill, replay)
    window: int = 1               # Transform/Trainer/Evaluator read the last `window` spans


@dataclass(frozen=True)
class ValidationSection:
    """Data gates beyond the curated schema (whose comparators hold the feature thresholds)."""

    label_drift: float = 0.18     # a class label's distribution vs the previous span
    #                               (L-infinity): a 50/50 -> 70/30 move is 0.20
    label_shift: float = 0.5      # a regression label's mean vs the previous span's, in
    #                               standard deviations of the previous span's label
    new_columns: str = "halt"     # a column the schema does not know: "halt" or "report"
    new_label_classes: str = "halt"  # a multiclass label's class no earlier span had
    skew_min_examples: int = 1000  # train-vs-eval skew halts only when both splits are this big
    min_examples: int = 20        # drift is judged only when the span and the previous one
    #                               hold this many examples (smaller: recorded, not judged)
    empty_split: str = "halt"     # a span with no example in a split: "halt" or "report"


@dataclass(frozen=True)
class ScheduleSection:
    """Scheduled runs on Apache Airflow (pipeline/scheduling/): one run per data interval, whose
    span is `first_span` plus the number of intervals between `start` and its own start."""

    interval: str = "@monthly"    # an Airflow preset (@hourly ... @yearly) or a cron expression
    start: str = ""               # ISO date or time (UTC) the first interval starts; "" = none
    end: str = ""                 # no interval starts after this; "" = open-ended
    first_span: int = 1           # the span of the interval that starts at `start`
    catchup: bool = True          # missed intervals are run, oldest first (a backfill)
    wait_minutes: float = 60.0    # how long a run waits for its span's files, then fails
    poke_seconds: int = 60        # how often it looks for them meanwhile


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
    schedule: ScheduleSection = ScheduleSection()
    tuning: TuningSection = TuningSection()
    # Set by the loader, not by the file.
    config_path: str = ""
    project_root: str = ""

    # Derived locations: every output lives under one root.
    @property
    def output_root(self) -> Path:
        return Path(self.pipeline.output_root)

    @property
    def pipeline_dir(self) -> Path:
        return self.output_root / self.pipeline.name

    @property
    def pipeline_root(self) -> Path:
        return self.pipeline_dir / "pipeline_root"

    @property
    def metadata_path(self) -> Path:
        return self.pipeline_dir / "metadata.sqlite"

    @property
    def serving_dir(self) -> Path:
        return self.pipeline_dir / "serving"

    @property
    def model_dir(self) -> Path:
        """Where the pushed versions of the model are: serving/<model name>/<N>/."""
        return self.serving_dir / self.pipeline.model_name

    @property
    def runs_dir(self) -> Path:
        return self.pipeline_dir / "runs"

    @property
    def data_dir(self) -> Path:
        return Path(self.data.dir)

    @property
    def all_features(self) -> list[str]:
        return [*self.features.numeric, *self.features.categorical]

    @property
    def report_only_anomalies(self) -> tuple[str, ...]:
        """Anomaly kinds the gates report without halting, as [validation] says."""
        kinds = {"SCHEMA_NEW_COLUMN": self.validation.new_columns,
                 "LABEL_NEW_CLASS": self.validation.new_label_classes,
                 "EMPTY_SPLIT": self.validation.empty_split}
        return tuple(sorted(kind for kind, action in kinds.items() if action == "report"))

    @property
    def ranking_metric(self) -> str:
        """The metric slices are ranked by: the first thresholded one, else the task's usual
        one (also the default gate's, see pipeline/dag/evaluation.py)."""
        return next(iter(self.evaluation.thresholds), None) or USUAL_METRIC[self.label.kind]

    @property
    def metrics_added(self) -> list[str]:
        """Metrics evaluated although [evaluation] metrics leaves them out: the example count
        (which slices are large enough to judge) and the ranking metric."""
        listed = [*self.evaluation.metrics, *self.evaluation.thresholds]
        return [m for m in ("example_count", self.ranking_metric)
                if self.evaluation.metrics and m not in listed]

    def metric_spec(self, name: str) -> tuple[str, str, bool]:
        """(TFMA class, TFMA metric key, higher is better) of a configured metric."""
        return METRICS[self.label.kind][name]

    @property
    def tuning_objective(self) -> str:
        """The Keras metric trials are scored on ([tuning] objective, else the task's)."""
        return self.tuning.objective or next(iter(TUNING_OBJECTIVES[self.label.kind]))

    @property
    def variant_tolerance(self) -> dict[str, float]:
        """The largest loss per metric an optimized variant may have (the task's default if
        [optimization.tolerance] is not set)."""
        return (self.optimization.tolerance
                or DEFAULT_VARIANT_TOLERANCE.get(self.label.kind, {}))


LOADER_FIELDS = ("config_path", "project_root")
