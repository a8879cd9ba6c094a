"""The end-of-run lines of `tfxpipe run`: a model that is not blessed always says why."""

from pipeline.records.render import render

FAILED = {"metric": "auc", "is_diff": False, "slice": {}, "value": 0.61,
          "threshold": ">= 0.7"}


def _blessing(summary: dict) -> list[str]:
    lines = render({"blessed": False, **summary}, 3)
    start = lines.index("blessed: " + ("yes" if summary.get("blessed") else "NO"))
    return [line for line in lines[start:] if line.startswith(("blessed", "  "))]


def test_a_failed_threshold_is_named_with_its_value_and_bound():
    assert _blessing({"failed_thresholds": [FAILED]}) == [
        "blessed: NO", "  failed: auc on overall: 0.6100, required >= 0.7"]


def test_the_default_gate_is_printed_and_a_refusal_without_failures_says_why():
    lines = _blessing({"gate": "no threshold is configured: the model must beat the naive "
                               "predictor, a constant score (AUC 0.5), on auc",
                       "failed_thresholds": []})
    assert lines[1].startswith("  gate: no threshold is configured")
    assert lines[2] == ("  failed: no threshold was met (TFMA blesses a model only when one "
                        "threshold applies and passes): set [evaluation.thresholds]")
    assert _blessing({"blessed": True, "failed_thresholds": []}) == ["blessed: yes"]


BASELINES = {
    "metric": "auc", "higher_is_better": True, "min_lift": 0.0, "model_value": 0.61,
    "best_baseline": "logistic", "best_value": 0.62, "lift": -0.01, "passed": False,
    "evaluator_blessed": True, "blessed": False,
    "baselines": {"prior": "a constant score", "logistic": "a logistic regression"},
    "slices": [{"slice": {}, "metrics": {"prior": {"auc": 0.5}, "logistic": {"auc": 0.62}}},
               {"slice": {"payment_type": "Credit Card"},
                "metrics": {"prior": {"auc": 0.5}, "logistic": {"auc": 0.58}}}]}


def test_a_model_a_naive_baseline_matches_is_refused_in_one_line():
    lines = _blessing({"failed_thresholds": [], "baselines": BASELINES})
    assert lines == [
        "blessed: NO",
        "  failed: lift of auc over the best naive baseline (logistic, 0.6200) on overall: "
        "-0.0100, required > 0 (evaluation.min_lift): a trivial rule does as well"]
    passed = {**BASELINES, "lift": 0.02, "passed": True}
    assert _blessing({"blessed": True, "failed_thresholds": [], "baselines": passed}) == [
        "blessed: yes"]


def test_a_model_no_better_than_chance_is_refused_naming_the_margin():
    noise = {**BASELINES, "best_baseline": "prior", "best_value": 0.5, "model_value": 0.5115,
             "lift": 0.0115, "chance_margin": 2.0, "chance_error": 0.0252, "required": 0.0504}
    assert _blessing({"failed_thresholds": [], "baselines": noise}) == [
        "blessed: NO",
        "  failed: lift of auc over the best naive baseline (prior, 0.5000) on overall: "
        "+0.0115, required > 0.0504 (2 standard errors of auc by chance on the eval split, "
        "0.0252 each: evaluation.chance_margin): no better than chance could make it"]


def test_key_slices_come_first_with_thresholds_and_baselines():
    summary = {
        "blessed": False, "failed_thresholds": [], "baselines": BASELINES,
        "primary_metric": "auc",
        "metrics_overall": {"auc": 0.61, "example_count": 900.0},
        "worst_slices": [{"slice": {"payment_type": "Credit Card"},
                          "metrics": {"auc": 0.55, "example_count": 500.0}}],
        "key_slices": [{"slice": {"payment_type": "Credit Card"},
                        "metrics": {"auc": 0.55, "example_count": 500.0},
                        "baselines": BASELINES["slices"][1]["metrics"],
                        "thresholds": {"auc": ">= 0.8 (overall)"}}]}
    lines = render(summary, 3)
    start = lines.index("key slices:")
    assert start < lines.index("metrics (overall): auc=0.6100, example_count=900")
    assert lines[start + 1].split() == [
        "payment_type=Credit", "Card", "auc=0.5500", "n=500", "naive:", "prior", "0.5000,",
        "logistic", "0.5800", "thresholds:", "auc", ">=", "0.8", "(overall)"]
    assert ("naive baselines (auc, overall): prior 0.5000, logistic 0.6200; model 0.6100, "
            "lift -0.0100 over logistic (required > 0)") in lines
    worst = lines[lines.index("worst slices by auc:") + 1]
    assert worst.endswith("naive: prior 0.5000, logistic 0.5800")


def test_a_key_slice_names_typed_slice_values_as_strings():
    from pipeline.records.summary import same_slice

    assert same_slice({"trip_start_hour": 7}, {"trip_start_hour": "7"})
    assert same_slice({"payment_type": "Credit Card"}, {"payment_type": "Credit Card"})
    assert not same_slice({"trip_start_hour": 7}, {"trip_start_hour": "8"})
    assert not same_slice({"a": "x", "b": 1}, {"a": "x"})


def test_a_rows_line_without_spans_names_no_window():
    """A run stopped by a signal records rows but not its spans: 'window : ...' was printed."""
    rows = {"train": 28, "eval": 12}
    lines = render({"rows": rows, "window_rows": rows}, 143)
    assert "rows read: train 28, eval 12 (total 40)" in lines
    spans = [{"span": 2, "files": []}, {"span": 3, "files": []}]
    lines = render({"rows": rows, "window_rows": rows, "spans": spans}, 0)
    assert "rows read: train 28, eval 12 (total 40) in span 3; window 2-3: train 28, eval 12 " \
           "(total 40)" in lines
