"""Review of a run: the helpers the notebooks and the HTML report share.

Notebooks import this package as `review`:

    from pipeline import review
    run = review.open_run()            # the latest run of the default config
    review.show(review.anomalies_table(run.summary))
"""

import os
import sys
import warnings

# Before anything imports TensorFlow (TFMA does): the project's models need Keras 2 (tf-keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Matplotlib's cache goes into the environment, not $HOME.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "var", "matplotlib"))
# Google client libraries warn about Python 3.10 on import (TFX pins it): noise in a review.
warnings.filterwarnings("ignore", message="You are using a non-supported Python version")

from pipeline.review import official  # noqa: E402
from pipeline.review.available import NOT_AVAILABLE, NotAvailable, available  # noqa: E402
from pipeline.review.contract import (  # noqa: E402
    anomalies_table,
    data_files_table,
    decision,
    decision_text,
    drift_table,
    failed_thresholds_table,
    slice_label,
    spans_table,
    variant_deltas_table,
    variants_table,
)
from pipeline.review.display import show  # noqa: E402
from pipeline.review.runs import (  # noqa: E402
    ReviewError,
    ReviewRun,
    open_run,
    runs_table,
    statistics_history,
)
from pipeline.review.schema import schema_table  # noqa: E402

__all__ = [
    "NOT_AVAILABLE", "NotAvailable", "ReviewError", "ReviewRun", "anomalies_table", "available",
    "data_files_table", "decision", "decision_text", "drift_table", "failed_thresholds_table",
    "official", "open_run", "runs_table", "schema_table", "show", "slice_label", "spans_table",
    "statistics_history", "variant_deltas_table", "variants_table",
]
