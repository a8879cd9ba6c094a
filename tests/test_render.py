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
