"""One measured speed-up of TFMA 0.47.1: a metric input's labels, predictions and weights,
extracted once per example and argument set instead of once per slice.

TFMA evaluates each example once per slice it falls in (about 4.7 slices an example on the
taxi data) and, in each, hands the same `StandardMetricInputs` object to every metric
combiner. Each combiner calls `metric_util.to_label_prediction_example_weight` on it, and that
call (lookups, checks, reshapes, and a class defined per call) was 40 % of the Evaluator's time
at 150k rows (docs/performance.md, "Evaluator"). Its answer depends only on the inputs object
and the call's arguments, so the patched function keeps, per argument set, the last inputs
object it saw and its answer: the second to fifth slices of an example get the first slice's.

- A hit needs the very same inputs object, equal strings, numbers and flags, and the very same
  other argument objects (the EvalConfig); the cache holds them, so their ids cannot be reused.
- Callers get the same arrays on every slice: the callers of the project's metrics read them
  (`float()`, sums, copies) and never write into them; tests/test_tfma_patches.py compares
  every figure of the binary, multiclass and regression metrics with and without the cache.
- A call that raises caches nothing; the cache holds one entry per argument set, per thread.

`install()` is called by every process that launches pipeline nodes, beside `beam_patches`. It
does nothing on any TFMA version other than the one this was measured on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

TFMA_VERSION = "0.47.1"
# TFMA functions that take the extractor as a default argument, bound when TFMA was imported.
_DEFAULTS_OF = (("binary_confusion_matrices", "binary_confusion_matrices"),
                ("binary_confusion_matrices", "_binary_confusion_matrix_computation"),
                ("multi_class_confusion_matrix_metrics", "multi_class_confusion_matrices"))
_BY_VALUE = (str, int, float, bool, type(None))
_IDENTITY = object()
_MAX_ENTRIES = 256  # argument sets; more than TFMA builds for any EvalConfig here


_local = threading.local()


def _original() -> Callable[..., Iterator]:
    from tensorflow_model_analysis.metrics import metric_util

    current = metric_util.to_label_prediction_example_weight
    return getattr(current, "original", current)


def _key(value: Any) -> Any:
    """Strings, numbers, booleans and None by value (each combiner unpickles its own model name);
    anything else by identity: the cache entry holds the value, so no other object has its id."""
    return (type(value), value) if type(value) in _BY_VALUE else (_IDENTITY, id(value))


def to_label_prediction_example_weight(inputs: Any, *args: Any, **kwargs: Any) -> Iterator:
    """TFMA's function, answered from the last call with the same inputs object and the same
    arguments (`_key`). A module-level function: Beam pickles the combiners holding it by
    reference."""
    cache = _local.__dict__.setdefault("cache", {})
    names = tuple(sorted(kwargs))
    values = (*args, *(kwargs[name] for name in names))
    key = (names, tuple(map(_key, values)))
    entry = cache.get(key)
    if entry is not None and entry[0] is inputs:
        return iter(entry[2])
    answer = list(_original()(inputs, *args, **kwargs))
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    cache[key] = (inputs, values, answer)
    return iter(answer)


def install() -> bool:
    """Memoises `metric_util.to_label_prediction_example_weight` in this process (once), where
    TFMA's combiners look it up; whether it is installed."""
    import importlib

    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_util

    original = metric_util.to_label_prediction_example_weight
    if original is to_label_prediction_example_weight:
        return True
    if tfma.__version__ != TFMA_VERSION:
        return False
    to_label_prediction_example_weight.original = original
    metric_util.to_label_prediction_example_weight = to_label_prediction_example_weight
    for module_name, function_name in _DEFAULTS_OF:
        module = importlib.import_module(f"tensorflow_model_analysis.metrics.{module_name}")
        function = getattr(module, function_name)
        function.__defaults__ = tuple(to_label_prediction_example_weight if d is original
                                      else d for d in function.__defaults__)
    return True
