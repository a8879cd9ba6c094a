"""The optimization stage's pieces that need no pipeline: the judgement rule, the per-slice
metrics of the TFLite path, reading TFMA's records, the [optimization] config and the pruned
model's EvalConfig."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components.model_optimizer.preprocessing_spec import (
    _from_ordered,
    _to_ordered,
)
from components.shared.tfma_metrics import metrics_of_records
from components.variant_evaluator import metrics
from components.variant_evaluator.judgement import (
    MetricRule,
    SliceComparison,
    judge,
)
from components.versioned_pusher.manifest import metrics_section
from pipeline.config import load_config
from pipeline.dag.evaluation import pruned_eval_config, slicing_specs
from tests.fixtures.configs import MINIMAL, TAXI, error_of

AUC = MetricRule("auc", 0.01, True)


def _cmp(key, n, dense, variant, label_mean=0.5, metric="auc"):
    return SliceComparison(key, n, {metric: dense}, {metric: variant}, label_mean)


# ---------------------------------------------------------------------------------------------
# Judgement


def test_a_loss_beyond_tolerance_on_any_large_slice_rejects_the_variant():
    verdict = judge([_cmp({}, 1000, 0.90, 0.895), _cmp({"hour": 1}, 200, 0.80, 0.785),
                     _cmp({"hour": 2}, 200, 0.80, 0.79)], [AUC], min_examples=100)
    assert verdict.blessed is False
    assert [r["slice"] for r in verdict.failures] == [{"hour": 1}]
    assert verdict.reason == ("auc -0.0150 on hour=1 (n=200) exceeds the tolerance 0.01")


def test_a_loss_exactly_at_the_tolerance_passes_and_gains_always_pass():
    verdict = judge([_cmp({}, 1000, 0.90, 0.89), _cmp({"hour": 1}, 200, 0.80, 0.95)],
                    [AUC], min_examples=100)
    assert verdict.blessed is True
    assert verdict.reason == ("within tolerance (auc loss <= 0.01) overall and on all 1 "
                              "judged slices")


def test_small_slices_are_reported_with_their_values_but_not_judged():
    verdict = judge([_cmp({}, 40, 0.90, 0.70), _cmp({"hour": 1}, 99, 0.80, 0.10)],
                    [AUC], min_examples=100)
    overall, small = verdict.deltas
    assert overall["judged"] and not overall["passed"]  # the overall slice is never "too small"
    assert not small["judged"] and small["passed"]
    assert small["variant"] == 0.10 and small["delta"] == pytest.approx(-0.70)
    assert small["note"] == "fewer than 100 examples: reported, not judged"
    assert verdict.small_slices == 1 and "1 slices under 100 examples" in verdict.reason


def test_ranking_metrics_need_both_classes_but_accuracy_does_not():
    rules = [AUC, MetricRule("accuracy", 0.01, True)]
    one_positive = SliceComparison({"payment_type": "Cash"}, 2000,
                                   {"auc": 0.12, "accuracy": 0.99},
                                   {"auc": 0.01, "accuracy": 0.95}, label_mean=1 / 2000)
    verdict = judge([one_positive], rules, min_examples=100, min_class_examples=10)
    auc, accuracy = verdict.deltas
    assert not auc["judged"] and "1 positive and 1999 negative" in auc["note"]
    assert accuracy["judged"] and not accuracy["passed"]


def test_a_metric_that_cannot_be_judged_overall_is_no_blessing():
    # 24 eval examples with 3 positives: the overall AUC of either model is noise.
    tiny = SliceComparison({}, 24, {"auc": 0.86}, {"auc": 0.73}, label_mean=3 / 24)
    verdict = judge([tiny], [AUC], min_examples=100, min_class_examples=10)
    assert not verdict.blessed and not verdict.failures
    assert verdict.reason.startswith("auc could not be judged overall (3 positive and 21 "
                                     "negative examples")


def test_lower_is_better_metrics_lose_when_they_grow():
    rule = MetricRule("mse", 0.1, False)
    better = judge([_cmp({}, 500, 1.0, 0.5, None, "mse")], [rule], 100)
    worse = judge([_cmp({}, 500, 1.0, 1.2, None, "mse")], [rule], 100)
    assert better.blessed and not worse.blessed
    assert worse.reason.startswith("mse +0.2000 on overall")


def test_an_undefined_value_is_reported_not_judged():
    verdict = judge([_cmp({}, 500, 0.9, 0.9), _cmp({"c": "x"}, 500, None, 0.5)], [AUC], 100)
    assert verdict.blessed and verdict.deltas[1]["note"] == "undefined for this slice: not judged"


# ---------------------------------------------------------------------------------------------
# Metrics of the TFLite path


def _pairwise_auc(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (
        len(pos) * len(neg))


def test_auc_is_exact_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) * 0.5 + labels * 0.2, 2)  # many ties
    got = metrics.binary_metrics(labels, scores, 0.5)["auc"]
    assert got == pytest.approx(_pairwise_auc(labels, scores), abs=1e-12)
    assert metrics.binary_metrics(np.zeros(5), scores[:5], 0.5)["auc"] is None


def test_threshold_metrics_and_average_precision():
    labels = np.array([1, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.1])
    m = metrics.binary_metrics(labels, scores, 0.5)
    assert (m["precision"], m["recall"], m["accuracy"]) == (2 / 3, 2 / 3, 4 / 6)
    assert m["f1"] == pytest.approx(2 / 3)
    # Precision at each positive: 1/1, 2/3, 3/4 -> AP = (1 + 2/3 + 3/4) / 3.
    assert m["auc_pr"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert metrics.binary_metrics(labels, scores, 0.95)["precision"] is None


def test_other_tasks():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    m = metrics.multiclass_metrics(np.array([0, 1]), probabilities)
    assert m["accuracy"] == 0.5 and m["log_loss"] == pytest.approx(-(np.log(0.7) + np.log(0.1)) / 2)
    r = metrics.regression_metrics(np.array([1.0, 2.0]), np.array([[2.0], [2.0]]))
    assert r == {"mse": 0.5, "mae": 0.5, "rmse": pytest.approx(0.5 ** 0.5)}


def test_slices_follow_tfma_missing_values_are_in_no_slice_and_values_cross():
    rows = [{"a": ["x"], "b": [1]}, {"a": ["x", "y"], "b": [2]}, {"b": [1]}]
    index = metrics.slice_index(rows, [["a"], ["b", "a"]])
    members = {k: v[1] for k, v in index.items()}
    assert members == {"{}": [0, 1, 2], '{"a": "x"}': [0, 1], '{"a": "y"}': [1],
                       '{"a": "x", "b": 1}': [0], '{"a": "x", "b": 2}': [1],
                       '{"a": "y", "b": 2}': [1]}


# ---------------------------------------------------------------------------------------------
# TFMA records: TFMA's metric over a Keras model's compiled metric of the same name


def _record(entries) -> metrics_for_slice_pb2.MetricsForSlice:
    record = metrics_for_slice_pb2.MetricsForSlice()
    record.slice_key.SetInParent()
    for name, model, weighted, value in entries:
        entry = record.metric_keys_and_values.add()
        entry.key.name, entry.key.model_name = name, model
        if weighted is not None:
            entry.key.example_weighted.value = weighted
        entry.value.double_value.value = value
    return record


def test_tfma_values_win_over_compiled_keras_metrics_and_weighted_twins():
    record = _record([("auc", "baseline", None, 0.48), ("auc", "baseline", True, 0.30),
                      ("auc", "baseline", False, 0.16), ("auc", "candidate", False, 0.20),
                      ("example_count", "candidate", False, 2489.0)])
    [row] = metrics_of_records([record], ["baseline"])
    assert row.baseline["auc"] == 0.16 and row.candidate["auc"] == 0.20
    # The pushed manifest reads the same way (a candidate-only evaluation).
    single = _record([("auc", "", None, 0.48), ("auc", "", False, 0.16)])
    assert metrics_section(metrics_of_records([single], []))["overall"]["auc"] == 0.16


def test_float_ordering_round_trips_for_bisection():
    values = np.array([-3.4e38, -1.5, -0.0, 0.0, 1e-30, 2.5, 3.4e38], dtype=np.float32)
    ordered = _to_ordered(values)
    assert np.all(np.diff(ordered) >= 0)
    np.testing.assert_array_equal(_from_ordered(ordered), values)


# ---------------------------------------------------------------------------------------------
# Config and the pruned model's EvalConfig


def test_taxi_config_optimizes_all_three_variants():
    config = load_config(TAXI)
    opt = config.optimization
    assert opt.enabled and opt.variants == ["pruned", "tflite_dynamic", "tflite_int8"]
    assert opt.target_sparsity == 0.8 and opt.tolerance == {"auc": 0.01}
    assert opt.latency_calls >= 1000


@pytest.mark.parametrize("extra, expected", [
    ("[optimization]\nvariants = ['pruned', 'onnx']\n",
     "'optimization.variants' entry 'onnx' is unknown; choose from pruned, tflite_dynamic"),
    ("[optimization]\ntarget_sparsity = 1.0\n",
     "'optimization.target_sparsity' must be strictly between 0 and 1"),
    ("[optimization]\npruning_end_step = 2000\n", "the pruning schedule must satisfy"),
    ("[optimization]\npruning_end_step = 610\n", "must be a multiple of 'pruning_frequency'"),
    ("[optimization.tolerance]\nmse = 0.1\n",
     "'optimization.tolerance.mse': a binary variant is judged on auc, auc_pr"),
    ("[optimization.tolerance]\nauc = -0.1\n", "'optimization.tolerance.auc' is the allowed loss"),
    ("[optimization]\nlatency_calls = 0\n", "'optimization.latency_calls' must be a positive"),
    ("[optimization]\nsparsity = 0.5\n", "unknown key 'optimization.sparsity'"),
])
def test_optimization_mistakes_are_reported_precisely(toy, extra, expected):
    assert expected in error_of(toy(extra=extra))


def test_optimization_is_off_unless_asked_and_has_a_default_tolerance_per_task(toy):
    write = toy
    config = load_config(write())
    assert config.optimization.enabled is False and config.variant_tolerance == {"auc": 0.01}
    regression = MINIMAL.replace('kind = "binary"', 'kind = "regression"')
    assert load_config(write(regression)).variant_tolerance == {}
    assert "[optimization.tolerance] must set the largest loss allowed for a regression label" \
        in error_of(write(regression, "[optimization]\nenabled = true\n"))
    assert load_config(write(regression, "[optimization]\nenabled = true\n"
                                       "[optimization.tolerance]\nrmse = 0.5\n")
                       ).variant_tolerance == {"rmse": 0.5}


def test_pruned_model_eval_config_has_change_thresholds_on_every_slice():
    config = load_config(TAXI)
    eval_config = pruned_eval_config(config)
    metrics_by_class = {m.class_name: m for m in eval_config.metrics_specs[0].metrics}
    assert set(metrics_by_class) == {"ExampleCount", "MeanLabel", "AUC"}
    [per_slice] = metrics_by_class["AUC"].per_slice_thresholds
    assert list(per_slice.slicing_specs) == slicing_specs(config)
    change = per_slice.threshold.change_threshold
    assert change.absolute.value == pytest.approx(-0.01, abs=1e-9)
    assert list(eval_config.slicing_specs) == slicing_specs(config)
    assert eval_config.model_specs[0].preprocessing_function_names == ["transform_features"]
