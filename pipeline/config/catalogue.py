"""What each task can be measured and judged with: the TFMA metric catalogue and the optimized
variants' metrics, by label kind. Plain data, read by the loader's checks and by the DAG's
evaluation configs."""

from __future__ import annotations

TASK_KINDS = ("binary", "multiclass", "regression")

# The naive baselines of each task (components/naive_baselines/fit.py fits them) and those
# that predict a constant: the lift gate's default (evaluation.lift_over).
BASELINES = {"binary": ("prior", "logistic"), "multiclass": ("prior", "logistic"),
             "regression": ("mean", "median")}
CONSTANT_BASELINES = {"binary": ("prior",), "multiclass": ("prior",),
                      "regression": ("mean", "median")}

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
# Evaluated when [evaluation] metrics is not set.
DEFAULT_METRICS = {
    "binary": ["example_count", "auc", "auc_pr", "precision", "recall", "f1", "accuracy",
               "calibration"],
    "multiclass": ["example_count", "accuracy", "log_loss"],
    "regression": ["example_count", "mse", "mae", "rmse"],
}
# The metric slices are ranked by when no threshold names one.
USUAL_METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "mse"}

# Optimized variants of the trained model (the [optimization] section).
OPTIMIZATION_VARIANTS = ("pruned", "tflite_dynamic", "tflite_int8")
# Metrics a variant can be judged on (a tolerance per metric): computed by TFMA for the pruned
# SavedModel and by the VariantEvaluator for the TFLite models.
VARIANT_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "auc_pr", "accuracy", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "log_loss"),
    "regression": ("mse", "mae", "rmse"),
}
# Without [optimization.tolerance]: a regression error has the label's units, so it has no
# default.
DEFAULT_VARIANT_TOLERANCE = {"binary": {"auc": 0.01}, "multiclass": {"accuracy": 0.01}}


def metric_keys() -> dict[str, str]:
    """{TFMA metric class name: metric key}, for every task kind."""
    return {cls: key for kind in METRICS.values() for cls, key, _ in kind.values()}


# The objectives a trial can be scored on, by label kind: the Keras validation metric (the
# Trainer's compiled metric, or the loss) -> whether higher is better.
TUNING_OBJECTIVES = {
    "binary": {"val_auc": True, "val_loss": False},
    "multiclass": {"val_accuracy": True, "val_loss": False},
    "regression": {"val_mae": False, "val_loss": False},
}
