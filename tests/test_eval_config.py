"""The TFMA EvalConfig built from the pipeline config: metrics, slices and where bounds apply."""

import pytest
import tensorflow_model_analysis as tfma

from pipeline.config import load_config
from pipeline.dag.evaluation import model_eval_config
from tests.fixtures import TAXI_CONFIG
from tests.fixtures.configs import MINIMAL

TAXI = TAXI_CONFIG


@pytest.fixture(scope="module")
def eval_config() -> tfma.EvalConfig:
    return model_eval_config(load_config(TAXI))


def _metrics(eval_config):
    [spec] = eval_config.metrics_specs
    return {m.class_name: m for m in spec.metrics}


def test_model_spec_reads_the_label_through_the_transform_signature(eval_config):
    [model] = eval_config.model_specs
    assert model.signature_name == "serving_default"
    assert model.label_key == "label_xf" and model.prediction_key == "outputs"
    assert list(model.preprocessing_function_names) == ["transform_features"]


def test_binary_metrics_at_the_decision_threshold(eval_config):
    metrics = _metrics(eval_config)
    assert {"AUC", "AUCPrecisionRecall", "Precision", "Recall", "F1Score", "BinaryAccuracy",
            "Calibration", "ExampleCount", "CalibrationPlot", "ConfusionMatrixPlot"} <= set(metrics)
    assert '"thresholds": [0.5]' in metrics["F1Score"].config
    assert '"threshold": 0.5' in metrics["BinaryAccuracy"].config


def test_slices_are_overall_each_feature_and_the_cross(eval_config):
    keys = [list(s.feature_keys) for s in eval_config.slicing_specs]
    assert keys == [[], ["trip_start_hour"], ["payment_type"], ["company"],
                    ["payment_type", "trip_start_hour"]]


def test_bounds_apply_to_the_overall_slice_only(eval_config):
    auc = _metrics(eval_config)["AUC"]
    # A plain `threshold` would bind every slice, down to slices of one example.
    assert not auc.HasField("threshold")
    [per_slice] = auc.per_slice_thresholds
    assert [s.feature_keys for s in per_slice.slicing_specs] == [[]]
    threshold = per_slice.threshold
    assert threshold.value_threshold.lower_bound.value == pytest.approx(0.80)
    change = threshold.change_threshold
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert change.absolute.value == pytest.approx(-0.01)
    others = [m for name, m in _metrics(eval_config).items() if name != "AUC"]
    assert not any(m.per_slice_thresholds or m.HasField("threshold") for m in others)


def test_only_the_listed_metrics_not_the_keras_compiled_ones(eval_config):
    assert eval_config.options.include_default_metrics.value is False
    assert eval_config.options.HasField("include_default_metrics")


def test_a_metric_list_without_what_the_ranking_needs_gets_it_added(toy):
    """Without the example count every slice would count as too small to rank; without the
    ranking metric there is nothing to rank by."""
    config = load_config(toy(extra='[evaluation]\nmetrics = ["precision"]\n'))
    assert config.metrics_added == ["example_count", "auc"]
    assert {"ExampleCount", "AUC", "Precision"} <= set(_metrics(model_eval_config(config)))
    listed = load_config(toy(extra='[evaluation]\nmetrics = ["example_count", "auc"]\n'))
    assert listed.metrics_added == [] and load_config(toy()).metrics_added == []


def test_without_thresholds_the_gate_is_beating_the_naive_predictor(toy):
    from pipeline.inputs.labels import LabelValues

    config = load_config(toy(text=MINIMAL.replace('"binary"', '"multiclass"')))
    label = LabelValues("multiclass")
    for value in ("a", "b", "b", "c"):
        label.add(value)
    accuracy = _metrics(model_eval_config(config, label))["SparseCategoricalAccuracy"]
    [per_slice] = accuracy.per_slice_thresholds
    assert 0.5 < per_slice.threshold.value_threshold.lower_bound.value < 0.5001
    unknown = _metrics(model_eval_config(config, None))["SparseCategoricalAccuracy"]
    assert not unknown.per_slice_thresholds  # no label values read: no gate to set
