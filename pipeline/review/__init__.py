"""Review of a run: the helpers the notebooks and the HTML report share.

Notebooks import this package as `review`:

    from pipeline import review
    run = review.open_run()            # the latest run of the default config
    review.show(review.anomalies_table(run.summary))

Its names load on first use, so `tfxpipe` (which registers `tfxpipe report` from
`pipeline.review.command`) does not pay for pandas and matplotlib on every command. Also here:
`schema_diff.py` (`tfxpipe schema`), `schema_view.py` (the schema as a table).

May import `pipeline.records`, `pipeline.dag.nodes`, `pipeline.inputs`, `pipeline.config` and
the components; never the orchestration or the CLI.
"""

import importlib

from pipeline import process

# A notebook's kernel is a process of its own: set up before anything imports TensorFlow (TFMA
# does), with TensorFlow's C++ logs off (a review shows results, not start-up notices).
process.set_up(tf_log_level=3)

_EXPORTS = {
    "pipeline.review.unavailable": ["NOT_AVAILABLE", "NotAvailable", "available"],
    "pipeline.review.contract": [
        "anomalies_table", "data_files_table", "decision", "decision_text", "drift_table",
        "failed_thresholds_table", "key_slices_table", "naive_baselines_table", "slice_label",
        "spans_table", "variant_deltas_table", "variants_table"],
    "pipeline.review.display": ["show"],
    "pipeline.review.runs": ["ReviewError", "ReviewRun", "open_run", "runs_table",
                             "statistics_history"],
    "pipeline.review.schema_view": ["schema_table"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = {"command", "contract", "display", "figures", "metrics", "official",
               "report", "runs", "schema_diff", "schema_view", "statistics", "unavailable"}

__all__ = sorted([*_WHERE, "official"])


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"pipeline.review.{name}")
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeline.review' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE, *_SUBMODULES])
