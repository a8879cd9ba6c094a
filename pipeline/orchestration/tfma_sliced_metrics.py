"""TFMA 0.47.1's metrics per slice, combined a batch of examples at a time instead of one
example and slice at a time, where every metric has a closed form (the Evaluator's binary
metrics and plots, the regression errors).

TFMA's evaluator fans every example out to each slice it falls in and runs each metric's
combiner in Python on it: at 150k rows that was over half of the Evaluator's time
(docs/performance.md, "Evaluator"). Here TFMA's batches of examples are kept whole: its
unbatching and slice key extraction are left out (`default_extractors`), each slice's rows in a
batch are found at once (`components/shared/tfma_slices.py`), and each combiner's accumulator
for those rows is built at once (`components/shared/tfma_closed_forms.py`). TFMA's own code
does the rest: its computations, its combiners' merges and outputs, its derived metrics, the
candidate-against-baseline differences, the validation, the writers.

A batch that does not fit (labels not 0 or 1 under a histogram, a score that is not one finite
number, a multi-output model, a slice column among the transformed features or in a form not
handled) is unbatched and sliced by TFMA's own code and combined by TFMA's per-example code,
into the same accumulators: the figures do not depend on which way a batch went. So are
unbatched extracts (an evaluation given its own extractors), `_BATCH` at a time. An evaluation
the closed forms cannot answer at all (another metric, weights, confidence intervals,
cross-slice or SQL slice specs, query keys, a minimum slice size, a Keras model's own metrics)
is TFMA's unchanged.

`install()` is called by every process that launches pipeline nodes, beside `tfma_patches`; it
does nothing on any TFMA version other than the one this was written for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from absl import logging

from components.shared import tfma_closed_forms as closed_forms
from pipeline.orchestration import tfma_batches as batches

_BATCH = 10_000  # unbatched examples per batch
_BATCHED = "_batched_for_slices"  # marks TFMA's batched extracts, left whole for this step


def install() -> bool:
    """Puts `compute_metrics_and_plots` where TFMA's evaluator looks up its per-slice step, and
    `default_extractors` where TFMA's API looks up its extractors (once); whether installed."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.api import model_eval_lib
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev

    if tfma.__version__ != closed_forms.TFMA_VERSION:
        return False
    if ev._ComputeMetricsAndPlots is not compute_metrics_and_plots:  # pylint: disable=protected-access
        compute_metrics_and_plots.original = ev._ComputeMetricsAndPlots  # pylint: disable=protected-access
        ev._ComputeMetricsAndPlots = compute_metrics_and_plots  # pylint: disable=protected-access
    if model_eval_lib.default_extractors is not default_extractors:
        default_extractors.original = model_eval_lib.default_extractors
        model_eval_lib.default_extractors = default_extractors
    return True


def default_extractors(*args: Any, **kwargs: Any) -> list[Any]:
    """TFMA's default extractors; where this step will compute the metrics (TFMA calls this
    with keywords), its last two (unbatching, slice keys) replaced by one that keeps batches
    whole."""
    from tensorflow_model_analysis.api import model_eval_lib
    from tensorflow_model_analysis.extractors import extractor, slice_key_extractor
    from tensorflow_model_analysis.extractors import unbatch_extractor as unbatch
    from tensorflow_model_analysis.utils import model_util

    extractors = default_extractors.original(*args, **kwargs)
    eval_config = kwargs.get("eval_config")
    stages = [e.stage_name for e in extractors]
    if (args or eval_config is None or kwargs.get("materialize") or kwargs.get("slice_spec")
            or stages[-2:] != [unbatch.UNBATCH_EXTRACTOR_STAGE_NAME,
                               slice_key_extractor.SLICE_KEY_EXTRACTOR_STAGE_NAME]):
        return extractors
    model = kwargs.get("eval_shared_model")
    config = model_eval_lib._update_eval_config_with_defaults(eval_config, model)  # pylint: disable=protected-access
    models = model_util.verify_and_update_eval_shared_models(model) or []
    if model_eval_lib._has_sql_slices(config) or closed_form_computations(  # pylint: disable=protected-access
            config, list(config.metrics_specs), {m.model_name: m for m in models}) is None:
        return extractors
    return [*extractors[:-2], extractor.Extractor(
        stage_name=slice_key_extractor.SLICE_KEY_EXTRACTOR_STAGE_NAME,
        ptransform=beam.Map(_kept_whole))]


def _kept_whole(batched: dict[str, Any]) -> dict[str, Any]:
    return {**batched, _BATCHED: True}


def compute_metrics_and_plots(**kwargs: Any) -> beam.PTransform:
    """TFMA's `_ComputeMetricsAndPlots` (called with its keywords): batched where the closed
    forms answer every computation, TFMA's own otherwise."""
    if closed_form_computations(kwargs["eval_config"], kwargs["metrics_specs"],
                                kwargs.get("eval_shared_models")) is None:
        logging.info("TFMA metrics per slice: TFMA's per-example step (no closed forms for "
                     "every metric of this evaluation)")
        return compute_metrics_and_plots.original(**kwargs)
    logging.info("TFMA metrics per slice: a batch of examples at a time, in closed form")
    return _BatchedMetricsAndPlots(**kwargs)  # pylint: disable=no-value-for-parameter


def closed_form_computations(eval_config: Any, metrics_specs: list[Any],
                             eval_shared_models: dict[str, Any] | None, schema: Any = None
                             ) -> Any:
    """TFMA's metric computations for `metrics_specs` where each combiner has a closed form and
    nothing else asks for TFMA's per-example path (`closed_forms.computations`; a Keras model's
    own metrics); else None. (The extractors and the metrics step decide alike: neither is
    given a schema.)"""
    from tensorflow_model_analysis import constants

    if any(m.include_default_metrics and m.model_type == constants.TF_KERAS
           for m in (eval_shared_models or {}).values()):
        return None
    computations = closed_forms.computations(eval_config, metrics_specs, schema)
    if computations is None:
        return None
    names = model_names(eval_config)
    label = np.zeros(1, np.int64)
    scores = {name: np.zeros(1, np.float32) for name in names}
    combiners = [c.combiner for c in computations.non_derived_computations]
    if not combiners or any(closed_forms.accumulating(c, label, scores) is None
                            for c in combiners):
        return None
    return computations


def model_names(eval_config: Any) -> list[str]:
    return [spec.name for spec in eval_config.model_specs] or [""]


@beam.ptransform_fn
def _BatchedMetricsAndPlots(extracts: beam.PCollection, *, eval_config: Any,  # pylint: disable=invalid-name
                            metrics_specs: list[Any], metrics_key: str, plots_key: str,
                            attributions_key: str, schema: Any = None, **_unused: Any
                            ) -> dict[str, beam.PCollection]:
    """TFMA's evaluation output ({metrics, plots, attributions}: (slice, values) per slice)."""
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as ev
    from tensorflow_model_analysis.metrics import metric_types
    from tensorflow_model_analysis.utils import model_util

    computations = closed_forms.computations(eval_config, metrics_specs, schema)
    baseline = model_util.get_baseline_model_spec(eval_config)
    combine = computations.non_derived_computations
    per_slice = (
        extracts
        | "AccumulatePerSlice" >> beam.ParDo(AccumulateBatch(combine, eval_config))
        | "MergePerSlice" >> beam.CombinePerKey(MergeAccumulators(combine))
        | "AddDerivedAndDiffMetrics" >> ev._AddDerivedCrossSliceAndDiffMetrics(  # pylint: disable=protected-access
            computations.derived_computations, [], [], baseline.name if baseline else None)
        | "RemovePrivateMetrics" >> beam.MapTuple(ev._remove_private_metrics))  # pylint: disable=protected-access
    by_type = {metrics_key: metric_types.MetricKey, plots_key: metric_types.PlotKey,
               attributions_key: metric_types.AttributionsKey}
    return {output: per_slice | f"FilterBy{key_type.__name__}" >> beam.Map(
                ev._filter_by_key_type, key_type)  # pylint: disable=protected-access
            for output, key_type in by_type.items()}


class Accumulators:
    """The combiners' accumulators of a slice, opaque to Beam's coder: pickled at once, not
    bucket by bucket (nor is a batch of examples ever an element Beam sizes or encodes)."""

    __slots__ = ("values",)

    def __init__(self, values: tuple):
        self.values = values


class AccumulateBatch(beam.DoFn):
    """TFMA's extracts -> (slice key, the combiners' accumulators of its rows in a batch), one
    per slice with rows in the batch: each batched extract a batch, unbatched ones `_BATCH` at a
    time."""

    def __init__(self, computations: list[Any], eval_config: Any):
        self._computations = computations
        self._eval_config = eval_config

    def setup(self) -> None:
        from tensorflow_model_analysis import SlicingSpec
        from tensorflow_model_analysis.evaluators import (
            metrics_plots_and_validations_evaluator as ev,
        )
        from tensorflow_model_analysis.extractors import slice_key_extractor
        from tensorflow_model_analysis.slicer import slicer_lib as slicer

        self._names = model_names(self._eval_config)
        self._slicing_specs = list(self._eval_config.slicing_specs) or [SlicingSpec()]
        self._slicer = slice_key_extractor.ExtractSliceKeysFn(self._eval_config, False)
        self._specs = [slicer.SingleSliceSpec(spec=spec) for spec in self._slicing_specs]
        self._combiners = [c.combiner for c in self._computations]
        for combiner in self._combiners:
            combiner.setup()
        self._preprocess = ev._PreprocessorDoFn(self._computations)  # pylint: disable=protected-access
        self._preprocess.setup()
        self._stock = ev._ComputationsCombineFn(self._computations)  # pylint: disable=protected-access
        self._stock.setup()

    def start_bundle(self) -> None:
        self._batch: list[dict[str, Any]] = []

    def process(self, extract: dict[str, Any]) -> Iterator[tuple[Any, Accumulators]]:
        if extract.get(_BATCHED):
            yield from self._batched(extract)
            return
        self._batch.append(extract)
        if len(self._batch) >= _BATCH:
            yield from self._unbatched(self._batch)
            self._batch = []

    def finish_bundle(self) -> Iterator[Any]:
        from apache_beam.transforms import window

        for element in self._unbatched(self._batch):
            yield window.GlobalWindows.windowed_value(element)
        self._batch = []

    def _batched(self, batched: dict[str, Any]) -> Iterator[tuple[Any, Accumulators]]:
        """A batch as TFMA's extractors left it; unbatched and sliced by TFMA where it does
        not fit."""
        rows = batches.batched_rows(batched)
        groups = columns = None
        if rows:
            groups = batches.batched_slice_rows(batched, self._slicing_specs, rows)
        if groups is not None:
            columns = batches.batched_label_and_scores(batched, self._names, rows)
        accumulators = self._closed_forms(columns)
        if accumulators is None:
            yield from self._unbatched(self._sliced(batched))
            return
        yield from self._per_slice(groups, accumulators)

    def _sliced(self, batched: dict[str, Any]) -> list[dict[str, Any]]:
        """TFMA's own unbatching and slice keys of a batched extract."""
        from tensorflow_model_analysis.extractors import unbatch_extractor

        whole = {k: v for k, v in batched.items() if k != _BATCHED}
        return [self._slicer.process(extract, self._specs)[0]
                for extract in unbatch_extractor._extract_unbatched_inputs(whole)]  # pylint: disable=protected-access

    def _unbatched(self, batch: list[dict[str, Any]]) -> Iterator[tuple[Any, Accumulators]]:
        if not batch:
            return
        groups = batches.rows_of_slice_keys(batch)
        accumulators = self._closed_forms(batches.label_and_scores(batch, self._names))
        if accumulators is None:
            yield from self._per_example(batch, groups)
        else:
            yield from self._per_slice(groups, accumulators)

    def _closed_forms(self, columns: batches.Columns | None) -> list[Any] | None:
        """Each combiner's closed form on these labels and scores; None unless all have one."""
        if columns is None:
            return None
        accumulators = [closed_forms.accumulating(c, *columns) for c in self._combiners]
        return None if any(a is None for a in accumulators) else accumulators

    @staticmethod
    def _per_slice(groups: dict[Any, np.ndarray], accumulators: list[Any]
                   ) -> Iterator[tuple[Any, Accumulators]]:
        for key, rows in groups.items():
            yield key, Accumulators(tuple(accumulate(rows) for accumulate in accumulators))

    def _per_example(self, batch: list[dict[str, Any]], groups: dict[Any, np.ndarray]
                     ) -> Iterator[tuple[Any, Accumulators]]:
        """TFMA's own per-example step, for a batch the closed forms do not fit."""
        inputs = [list(self._preprocess.process(extract))[0] for extract in batch]
        for key, rows in groups.items():
            accumulator = self._stock.create_accumulator()
            for row in rows:
                accumulator = self._stock.add_input(accumulator, inputs[row])
            yield key, Accumulators(tuple(accumulator))


class MergeAccumulators(beam.CombineFn):
    """The combiners' accumulators of a slice, merged by each combiner; its metrics out."""

    def __init__(self, computations: list[Any]):
        self._combiners = [c.combiner for c in computations]

    def setup(self) -> None:
        for combiner in self._combiners:
            combiner.setup()

    def create_accumulator(self) -> tuple:
        return tuple(c.create_accumulator() for c in self._combiners)

    def get_accumulator_coder(self) -> beam.coders.Coder:
        # Pickled whole: Beam's default coder pickles each of a histogram's buckets apart.
        return beam.coders.PickleCoder()

    def add_input(self, accumulator: tuple, element: Accumulators) -> tuple:
        return self.merge_accumulators([accumulator, element.values])

    def merge_accumulators(self, accumulators: Any) -> tuple:
        accumulators = list(accumulators)
        # An iterator each: TFMA's regression-error merge reads a list's first item twice.
        return tuple(combiner.merge_accumulators(iter([a[i] for a in accumulators]))
                     for i, combiner in enumerate(self._combiners))

    def compact(self, accumulator: tuple) -> tuple:
        return tuple(c.compact(a) for c, a in zip(self._combiners, accumulator, strict=True))

    def extract_output(self, accumulator: tuple) -> dict[Any, Any]:
        metrics: dict[Any, Any] = {}
        for combiner, value in zip(self._combiners, accumulator, strict=True):
            metrics.update(combiner.extract_output(value))
        return metrics
