"""The official TFDV and TFMA renderers, shown only when they can work; one line when not.

TFDV's `visualize_statistics` is Facets Overview, whose JavaScript is fetched from
cdnjs.cloudflare.com and raw.githubusercontent.com when the page renders; offline it shows an
empty frame. TFMA's views are ipywidgets that need TFMA's frontend extension; TFMA 0.47 ships it
for the classic Notebook only, not for JupyterLab 4 / Notebook 7 / VS Code. Each function here
checks what its renderer needs first, and reports in one line (never an exception) when it
cannot render; the review's own tables and figures show the same data either way.
"""

from __future__ import annotations

import os
import socket
from typing import Any

FACETS_HOSTS = ("cdnjs.cloudflare.com", "raw.githubusercontent.com")
TFMA_EXTENSION = "tensorflow_model_analysis"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:200]


def facets_reachable(timeout: float = 2.0) -> bool:
    """Whether Facets' JavaScript hosts answer; False at once when TFXPIPE_OFFLINE is set."""
    if os.environ.get("TFXPIPE_OFFLINE"):
        return False
    for host in FACETS_HOSTS:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
        except OSError:
            return False
    return True


def tfma_extension_installed() -> bool:
    """Whether JupyterLab can find TFMA's widget extension."""
    from jupyter_core.paths import jupyter_path

    return any(os.path.isdir(os.path.join(folder, TFMA_EXTENSION))
               for folder in jupyter_path("labextensions"))


def show_tfdv_statistics(statistics: dict[str, Any], reachable: bool | None = None) -> None:
    """Facets Overview of up to two splits, or one line saying why not."""
    if reachable is None:
        reachable = facets_reachable()
    if not reachable:
        return _say("official TFDV view (Facets) skipped: it loads its JavaScript from "
                    f"{' and '.join(FACETS_HOSTS)}, which this machine cannot reach; the tables "
                    "and figures above show the same statistics")
    try:
        import tensorflow_data_validation as tfdv
        from tensorflow_metadata.proto.v0 import statistics_pb2

        def as_list(dataset):
            return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])

        names = list(statistics)[:2]
        tfdv.visualize_statistics(
            lhs_statistics=as_list(statistics[names[0]]), lhs_name=names[0],
            rhs_statistics=as_list(statistics[names[1]]) if len(names) > 1 else None,
            rhs_name=names[1] if len(names) > 1 else "RHS_STATISTICS")
    except Exception as error:  # an optional view: never fail the notebook
        return _say(f"official TFDV view (Facets) failed: {_one_line(error)}")
    return _say("official TFDV view (Facets) shown above")


def show_tfdv_schema_and_anomalies(schema, anomalies: dict[str, Any]) -> None:
    """TFDV's own schema and anomalies tables (plain HTML: they work offline)."""
    try:
        import tensorflow_data_validation as tfdv

        if schema is not None:
            tfdv.display_schema(schema)
        for split, proto in anomalies.items():
            print(f"TFDV anomalies, split {split}:")
            tfdv.display_anomalies(proto)
    except Exception as error:  # an optional view: never fail the notebook
        return _say(f"official TFDV schema/anomalies view failed: {_one_line(error)}")
    return _say("official TFDV schema and anomalies views shown above")


def show_tfma(evaluation_uri: str | None, slicing_column: str | None = None,
              installed: bool | None = None) -> None:
    """TFMA's slicing-metrics widget when its extension is installed; else one line."""
    if not evaluation_uri:
        return _say("official TFMA view skipped: the run has no evaluation")
    if installed is None:
        installed = tfma_extension_installed()
    if not installed:
        return _say("official TFMA view skipped: its widgets need the 'tensorflow_model_analysis' "
                    "JupyterLab extension, which is not installed (TFMA 0.47 ships one for the "
                    "classic Notebook only); the tables and figures above show the same results")
    try:
        import tensorflow_model_analysis as tfma
        from IPython.display import display

        result = tfma.load_eval_result(evaluation_uri)
        display(tfma.view.render_slicing_metrics(result, slicing_column=slicing_column))
    except Exception as error:  # an optional view: never fail the notebook
        return _say(f"official TFMA view failed: {_one_line(error)}")
    return _say("official TFMA view shown above (blank without its frontend extension)")


def _say(line: str) -> None:
    print(line)
