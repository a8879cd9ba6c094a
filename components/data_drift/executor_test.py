"""DataDrift executor on small real Examples artifacts (gzipped TFRecords of tf.Examples)."""

import pytest

from tests.fixtures.trips import examples_artifact, run_data_drift, train_eval, trips


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
