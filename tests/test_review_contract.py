"""The summary.json readers of the review (notebooks and report), on small hand-made summaries.

They hold the keys other parts of the pipeline add (`spans`, `drift`, `variants`, anomaly
`observed`/`threshold`) so the readers are known to show them when present, and to say
"not available for this run" when absent.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.review import contract
from pipeline.review.report import html_table
from pipeline.review.unavailable import NOT_AVAILABLE, NotAvailable
from tests.fixtures import PROJECT
from tests.fixtures.summaries import ANOMALIES, DRIFT, SPANS, VARIANTS


def _full() -> dict:
    return {"spans": SPANS, "drift": DRIFT, "anomalies": ANOMALIES, "variants": VARIANTS}


def test_absent_keys_say_not_available_for_this_run():
    for reader in (contract.spans_table, contract.drift_table, contract.anomalies_table,
                   contract.variants_table, contract.variant_deltas_table,
                   contract.failed_thresholds_table, contract.overall_metrics_table,
                   contract.data_files_table):
        result = reader({})
        assert isinstance(result, NotAvailable), reader.__name__
        assert str(result).startswith(NOT_AVAILABLE)
        assert NOT_AVAILABLE in result._repr_html_()
        assert NOT_AVAILABLE in html_table(result)


def test_spans_one_row_per_file_in_span_order():
    table = contract.spans_table(_full())
    assert list(table["span"]) == [1, 1, 2]
    assert list(table["rows"]) == [10, 11, 20]
    assert list(table["sha256"]) == ["a" * 16, "c" * 16, "b" * 16]


def test_drift_exceeded_first_then_closest_to_threshold():
    table = contract.drift_table(_full())
    assert list(table["feature"]) == ["payment_type", "company", "fare"]
    assert list(table["exceeded"]) == [True, False, False]
    assert table.loc[0, "previous_span"] == 1 and table.loc[0, "span"] == 2
    html = html_table(table)
    assert html.count('<tr class="fail">') == 1 and "payment_type" in html


def test_empty_drift_means_no_previous_span():
    assert contract.drift_table({"drift": []}) == NotAvailable("no previous span to compare with")


def test_anomalies_show_observed_and_threshold_only_when_recorded():
    table = contract.anomalies_table(_full())
    assert list(table.columns) == ["split", "feature", "kind", "observed", "threshold", "short",
                                   "description"]
    assert table.loc[0, "observed"] == "0.10" and table.loc[0, "threshold"] == "0.01"
    assert table.loc[1, "observed"] is None
    old = contract.anomalies_table({"anomalies": [{k: v for k, v in ANOMALIES[1].items()}]})
    assert "observed" not in old.columns and len(old) == 1
    none = contract.anomalies_table({"anomalies": []})
    assert none.empty and "every split matches the schema" in html_table(none)


def test_variants_table_flattens_latency_percentiles():
    table = contract.variants_table(_full())
    assert list(table["name"]) == ["pruned", "tflite_int8"]
    assert "latency_ms_p50" in table.columns and "latency_ms_p99" in table.columns
    assert table.loc[0, "latency_ms_p50"] == 1.5
    assert pd.isna(table.loc[1, "latency_ms_p50"])
    assert list(table["blessed"]) == [True, False]
    assert table.loc[1, "reason"].startswith("auc dropped")


def test_variant_deltas_judged_first_with_slice_names():
    table = contract.variant_deltas_table(_full())
    pruned = table[table["variant"] == "pruned"]
    assert list(pruned["slice"]) == ["overall", "payment_type=Cash"]
    assert list(pruned["judged"]) == [True, False]
    assert table[table["variant"] == "tflite_int8"]["delta"].tolist() == [-0.03]
    assert contract.variant_deltas_table({"variants": [{"name": "x", "deltas": []}]}) == \
        NotAvailable("the variants recorded no metric deltas")


def test_decision_names_the_failed_metric_slice_value_and_bound():
    summary = {"outcome": "not blessed", "blessed": False, "failed_thresholds": [
        {"metric": "auc", "is_diff": False, "slice": {}, "value": 0.9479, "threshold": ">= 0.999"},
        {"metric": "auc", "is_diff": True, "slice": {"payment_type": "Cash"}, "value": -0.02,
         "threshold": "change vs baseline >= -0.01"}]}
    decided = contract.decision(summary)
    assert decided["headline"].startswith("not blessed")
    assert decided["reasons"] == [
        "auc on overall: 0.9479, required >= 0.999",
        "change of auc on payment_type=Cash: -0.0200, required change vs baseline >= -0.01"]
    table = contract.failed_thresholds_table(summary)
    assert list(table["metric"]) == ["auc", "change of auc"]


@pytest.mark.parametrize("summary, headline", [
    ({"outcome": "pushed", "blessed": True, "pushed": True, "pushed_version": 3},
     "blessed and pushed as version 3"),
    ({"outcome": "pushed", "blessed": True, "pushed": True, "pushed_version": 3,
      "pusher_cached": True}, "blessed; version 3 unchanged (served from cache)"),
    ({"outcome": "halted by data validation", "anomalies": ANOMALIES},
     "halted by data validation: nothing was trained or pushed"),
    ({"outcome": "error", "error": "Trainer failed: ValueError: x"},
     "error: the run did not finish"),
])
def test_decision_headlines(summary, headline):
    assert contract.decision(summary)["headline"] == headline


def test_halted_decision_lists_the_features():
    reasons = contract.decision({"outcome": "halted by data validation",
                                 "anomalies": ANOMALIES})["reasons"]
    assert reasons == ["2 anomalies against the schema in fare, payment_type"]


@pytest.mark.parametrize("name", ["data_validation", "model_analysis"])
def test_notebooks_are_committed_without_outputs(name):
    notebook = json.loads((PROJECT / "notebooks" / f"{name}.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert notebook["metadata"]["kernelspec"]["name"] == "tabular-tfx"
    source = "".join("".join(c["source"]) for c in code)
    assert "/tmp" not in source and "outputs/" not in source  # no hard-coded run paths


def test_the_review_namespace_keeps_its_helpers_once_every_module_is_loaded():
    import importlib
    import types

    from pipeline import review

    for module in ("command", "contract", "display", "figures", "metrics", "official", "report",
                   "runs", "schema_diff", "schema_view", "statistics", "unavailable"):
        importlib.import_module(f"pipeline.review.{module}")
    assert review.available(NotAvailable("x")) is False and review.available(1) is True
    # A helper never shadowed by a submodule of the same name (importing a submodule sets it
    # on the package).
    assert not [name for name in review._WHERE
                if isinstance(getattr(review, name), types.ModuleType)]
    assert callable(review.show) and callable(review.open_run) and callable(review.decision_text)
    assert review.official.show_tfma is not None
