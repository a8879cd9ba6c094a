"""DataDrift executor on small real Examples artifacts (gzipped TFRecords of tf.Examples)."""

import numpy as np
import pytest

from components.data_drift import MinimumExamples
from tests.fixtures.trips import (
    example,
    examples_artifact,
    label_on,
    run_data_drift,
    train_eval,
    trips,
    windowed,
)


def test_label_split_moving_from_50_50_to_70_30_exceeds_the_label_threshold(tmp_path):
    previous = examples_artifact(tmp_path, "span1", 1, train_eval(trips(400, 0.5, seed=1)))
    current = examples_artifact(tmp_path, "span2", 2, train_eval(trips(400, 0.7, seed=2)))
    report, content = run_data_drift(tmp_path, current, baseline=previous)
    rows = {r["feature"]: r for r in content["drift"]}
    label = rows["label"]
    assert label["comparator"] == "infinity_norm"
    assert label["value"] == pytest.approx(0.20, abs=1e-6)
    assert label["threshold"] == pytest.approx(0.18) and label["exceeded"] is True
    assert (label["span"], label["previous_span"]) == (2, 1)
    assert content["label"]["rule"] == "tips > 0.2 * fare"
    assert content["label"]["previous_distribution"] == {"0": 0.5, "1": 0.5}
    assert content["label"]["span_distribution"] == {"1": 0.7, "0": 0.3}
    # The other features were drawn from the same distributions: measured, under threshold.
    assert rows["payment_type"]["exceeded"] is False and rows["fare"]["exceeded"] is False
    assert rows["fare"]["comparator"] == "jensen_shannon_divergence"
    assert report.get_int_custom_property("drift_exceeded") == 1
    assert report.get_float_custom_property("drift:label") == pytest.approx(0.2, abs=1e-6)
    assert report.get_int_custom_property("previous_span") == 1


def test_a_steady_span_records_every_value_under_threshold(tmp_path):
    previous = examples_artifact(tmp_path, "span1", 1, train_eval(trips(400, 0.25, seed=1)))
    current = examples_artifact(tmp_path, "span2", 2, train_eval(trips(400, 0.3, seed=2)))
    report, content = run_data_drift(tmp_path, current, baseline=previous)
    assert {r["feature"] for r in content["drift"]} == {"label", "fare", "payment_type"}
    assert not any(r["exceeded"] for r in content["drift"])
    label = next(r for r in content["drift"] if r["feature"] == "label")
    assert label["value"] == pytest.approx(0.05, abs=1e-6)
    assert report.get_int_custom_property("drift_exceeded") == 0
    assert content["skew"] == []  # no window given


def test_first_span_has_no_previous_span_and_no_drift(tmp_path):
    current = examples_artifact(tmp_path, "span1", 1, train_eval(trips(200, 0.3, seed=1)))
    report, content = run_data_drift(tmp_path, current)
    assert content["previous_span"] is None and content["drift"] == []
    assert report.get_int_custom_property("previous_span") == -1


def test_train_and_eval_of_the_window_are_compared_for_skew(tmp_path):
    spans = []
    for span in (1, 2):
        rows = trips(300, 0.3, seed=span, card=0.5)
        skewed_eval = trips(100, 0.3, seed=10 + span, card=0.9)  # eval: mostly credit cards
        spans.append(examples_artifact(tmp_path, f"span{span}", span,
                               {"train": rows, "eval": skewed_eval}))
    report, content = run_data_drift(tmp_path, spans[1], baseline=spans[0], window=spans)
    skew = {r["feature"]: r for r in content["skew"]}
    assert set(skew) == {"fare", "payment_type"}  # the label has no skew comparator
    assert skew["payment_type"]["exceeded"] is True
    assert skew["payment_type"]["value"] > 0.3
    assert skew["payment_type"]["spans"] == [1, 2]
    assert report.get_int_custom_property("skew_exceeded") >= 1
    assert content["window_spans"] == [1, 2]


def test_a_regression_label_is_measured_by_its_mean_shift_in_its_units(tmp_path):
    """fare as the label: its mean moves from about 17.5 to about 27.5, over one standard
    deviation (about 7.2) of the previous span's fares."""
    previous = examples_artifact(tmp_path, "span1", 1, train_eval(trips(400, 0.5, seed=1)))
    shifted = [example(fare + 10.0, 1.0, "Cash") for fare in
               np.random.default_rng(2).uniform(5, 30, 400)]
    current = examples_artifact(tmp_path, "span2", 2, train_eval(shifted))
    _, content = run_data_drift(tmp_path, current, baseline=previous,
                                label=label_on("fare", "regression", 0.5))
    [label] = [r for r in content["drift"] if r["feature"] == "label"]
    assert label["comparator"] == "mean_shift" and label["exceeded"] and label["judged"]
    before, now = label["means"]
    assert now - before == pytest.approx(10.0, abs=1.0)
    assert label["value"] == pytest.approx((now - before) / label["previous_std"])
    assert label["value"] > 1.0


def test_a_label_class_no_earlier_span_had_is_named_with_its_count(tmp_path):
    """payment_type as a multiclass label: span 3 brings 'Bitcoin'; 'Cash' and 'Credit Card'
    are known from spans 1 and 2 of the window."""
    spans = [windowed(tmp_path, f"span{n}", n, trips(200, 0.3, seed=n)) for n in (1, 2)]
    new = trips(197, 0.3, seed=3) + [example(10.0, 1.0, "Bitcoin")] * 3
    spans.append(windowed(tmp_path, "span3", 3, new))
    report, content = run_data_drift(tmp_path, spans[2], baseline=spans[1], window=spans,
                                     label=label_on("payment_type", "multiclass", 0.5))
    assert content["label"]["known_classes"] == ["Cash", "Credit Card"]
    assert content["label"]["new_classes"] == {"Bitcoin": 3}
    assert report.get_int_custom_property("new_label_classes") == 1


def test_spans_too_small_to_judge_are_measured_but_not_judged(tmp_path):
    previous = examples_artifact(tmp_path, "span1", 1, train_eval(trips(400, 0.5, seed=1)))
    tiny = examples_artifact(tmp_path, "span2", 2, train_eval(trips(8, 1.0, seed=2)))
    report, content = run_data_drift(tmp_path, tiny, baseline=previous,
                                     minimum=MinimumExamples(drift=20))
    label = next(r for r in content["drift"] if r["feature"] == "label")
    assert label["value"] == pytest.approx(0.5, abs=1e-6)  # 50% -> 100%: far above 0.18
    assert not any(r["judged"] for r in content["drift"])
    assert label["note"] == ("not judged: 8 example(s) in the smaller span, fewer than 20 "
                             "(validation.min_examples)")
    assert report.get_int_custom_property("drift_exceeded") == 0
