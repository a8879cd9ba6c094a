"""Metrics tables of the review on a small TFMA result written by hand in TFMA's own formats
(metrics and validations TFRecords, eval_config.json) and read back through TFMA's loaders: a
candidate compared with a baseline, a failed change threshold, and slices of every status."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tensorflow_model_analysis.proto import (
    config_pb2,
    metrics_for_slice_pb2,
    validation_result_pb2,
)

from pipeline.config import load_config
from pipeline.review.metrics import (
    BELOW_BOUND,
    FAILED,
    ONE_CLASS,
    SMALL,
    Evaluation,
    read_model_comparison,
    read_thresholds,
    styled,
)
from pipeline.review.unavailable import NotAvailable
from tests.fixtures.cli import TAXI_CONFIG

SLICES = {  # payment_type value (None: overall) -> candidate metrics, baseline auc
    None: ({"auc": 0.85, "example_count": 700.0, "mean_label": 0.3}, 0.88),
    "Card": ({"auc": 0.60, "example_count": 300.0, "mean_label": 0.5}, 0.65),
    "Cash": ({"auc": 0.0, "example_count": 350.0, "mean_label": 0.0}, 0.0),
    "Bitcoin": ({"auc": 0.5, "example_count": 5.0, "mean_label": 0.4}, 0.5),
    "Mobile": ({"auc": 0.95, "example_count": 45.0, "mean_label": 0.2}, 0.9),
}


def _slice_key(value):
    key = metrics_for_slice_pb2.SliceKey()
    if value is not None:
        key.single_slice_keys.add(column="payment_type", bytes_value=value.encode())
    return key


def _record(value, metrics, baseline_auc):
    record = metrics_for_slice_pb2.MetricsForSlice(slice_key=_slice_key(value))

    def add(name, number, model, is_diff=False):
        kv = record.metric_keys_and_values.add()
        kv.key.name, kv.key.model_name, kv.key.is_diff = name, model, is_diff
        kv.value.double_value.value = number

    for name, number in metrics.items():
        add(name, number, "candidate")
    add("auc", baseline_auc, "baseline")
    add("auc", metrics["auc"] - baseline_auc, "candidate", is_diff=True)
    return record


@pytest.fixture(scope="module")
def evaluation_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluation")
    with tf.io.TFRecordWriter(os.path.join(folder, "metrics-00000-of-00001.tfrecord")) as w:
        for value, (metrics, baseline) in SLICES.items():
            w.write(_record(value, metrics, baseline).SerializeToString())
    threshold = config_pb2.MetricThreshold()
    threshold.value_threshold.lower_bound.value = 0.7
    threshold.change_threshold.direction = config_pb2.MetricDirection.HIGHER_IS_BETTER
    threshold.change_threshold.absolute.value = -0.01
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    per_slice = result.metric_validations_per_slice.add()
    failure = per_slice.failures.add()
    failure.metric_key.name, failure.metric_key.model_name = "auc", "candidate"
    failure.metric_key.is_diff = True
    failure.metric_threshold.CopyFrom(threshold)
    failure.metric_value.double_value.value = -0.03
    with tf.io.TFRecordWriter(os.path.join(folder, "validations.tfrecord")) as w:
        w.write(result.SerializeToString())
    eval_config = config_pb2.EvalConfig(
        slicing_specs=[config_pb2.SlicingSpec(), config_pb2.SlicingSpec(
            feature_keys=["payment_type"])],
        metrics_specs=[config_pb2.MetricsSpec(metrics=[
            config_pb2.MetricConfig(class_name="ExampleCount"),
            config_pb2.MetricConfig(class_name="AUC", per_slice_thresholds=[
                config_pb2.PerSliceMetricThreshold(slicing_specs=[config_pb2.SlicingSpec()],
                                                   threshold=threshold)])])])
    run = config_pb2.EvalRun(eval_config=eval_config, version=tfma.version.VERSION)
    (folder / "eval_config.json").write_text(json_format.MessageToJson(run))
    return str(folder)


@pytest.fixture(scope="module")
def evaluation(evaluation_dir):
    return Evaluation(load_config(TAXI_CONFIG), evaluation_dir, {"baseline_model": ["/m/1"]})


def test_thresholds_come_from_the_evaluators_saved_eval_config(evaluation_dir):
    [auc] = read_thresholds(evaluation_dir)
    assert auc.metric == "auc" and auc.spec == () and auc.lower == 0.7
    assert auc.text == ">= 0.7 and change vs baseline >= -0.01"
    assert auc.applies_to({}) and not auc.applies_to({"payment_type": "Card"})


def test_baseline_values_and_diffs_are_read(evaluation_dir):
    comparison = read_model_comparison(evaluation_dir)
    assert comparison["overall"]["auc"] == pytest.approx({"baseline": 0.88, "diff": -0.03})
    assert comparison["payment_type=Card"]["auc"]["baseline"] == 0.65


def test_overall_table_puts_thresholds_baseline_and_status_next_to_values(evaluation):
    table = evaluation.overall_table().set_index("metric")
    assert table.loc["auc", "value"] == 0.85
    assert table.loc["auc", "threshold"] == ">= 0.7 and change vs baseline >= -0.01"
    assert table.loc["auc", "status"] == FAILED
    assert table.loc["auc", "baseline"] == 0.88
    assert table.loc["auc", "change"] == pytest.approx(-0.03)
    assert table.loc["example_count", "status"] == ""


def test_slices_are_ranked_failed_first_and_marked(evaluation):
    table = evaluation.slice_table()
    assert list(zip(table["slice"], table["status"], strict=True)) == [
        ("overall", FAILED),
        ("payment_type=Card", BELOW_BOUND),
        ("payment_type=Mobile", ""),
        ("payment_type=Cash", ONE_CLASS),
        ("payment_type=Bitcoin", SMALL),
    ]
    assert list(table.columns[:5]) == ["slice", "spec", "status", "auc", "example_count"]
    only = evaluation.slice_table(["payment_type"])
    assert "overall" not in set(only["slice"]) and len(only) == 4


def test_styled_slices_highlight_failures_in_red_and_below_bound_in_orange(evaluation):
    css = styled(evaluation.slice_table()).to_html().split("</style>")[0]
    rules = {rule.split("{")[1].strip(): rule.split("{")[0] for rule in css.split("}")[:-1]}
    red, orange = rules["background-color: #f8d0d0;"], rules["background-color: #fde8c8;"]
    assert "_row0_col0" in red and "_row0_col5" in red and "_row1_" not in red  # overall
    assert "_row1_col0" in orange and "_row0_" not in orange  # payment_type=Card


def test_baseline_table(evaluation):
    table = evaluation.baseline_table()
    overall = table[table["slice"] == "overall"].set_index("metric")
    assert overall.loc["auc", "candidate"] == 0.85 and overall.loc["auc", "baseline"] == 0.88
    card = table[table["slice"] == "payment_type=Card"]
    assert card["change"].tolist() == [pytest.approx(-0.05)]
    no_baseline = Evaluation(evaluation.config, evaluation.uri, {"baseline_model": []})
    assert isinstance(no_baseline.baseline_table(), NotAvailable)


def test_a_slice_figure_with_nothing_to_draw_says_why_in_the_tasks_words():
    import pandas as pd

    from pipeline.review.figures import slices_figure

    regression = pd.DataFrame({"slice": ["a=1", "a=2"], "mse": [1.0, 2.0],
                               "status": ["small", "small"], "example_count": [3, 4]})
    text = slices_figure(regression, "mse").reason
    assert text == "no slice here can be judged (2 slices: 2 with too few examples)"
    binary = regression.rename(columns={"mse": "auc"}).assign(status=["small", "one class"])
    assert slices_figure(binary, "auc").reason.endswith(
        "1 with too few examples; 1 holding a single class)")


def test_notebook_tables_escape_values_and_column_names_as_the_report_does():
    import pandas as pd

    from pipeline.review.display import escaped, number_formats
    from pipeline.review.metrics import styled

    tag = "<img src=x onerror=alert(1)>"
    frame = pd.DataFrame({tag: [tag, "ok"], "auc": [0.91234, None], "status": ["FAILED", "ok"]})
    for page in (escaped(frame.style, number_formats(frame)).to_html(), styled(frame).to_html()):
        assert "<img" not in page and page.count("&lt;img src=x onerror=alert(1)&gt;") == 2
        assert "0.9123" in page
