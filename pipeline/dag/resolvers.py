"""Resolver strategies, and the resolver nodes that read them.

**Validated spans.** A window of spans is assembled from earlier ExampleGen executions, one per
span (TFX's ExampleGen ingests a single span per execution), the way TFX's SpanRangeStrategy
does, with two differences that matter for correctness:
- only spans that passed the data gates count: a span whose validation failed is never trained
  on or compared against (DataGate, or SpanValidation in a backfill, records the Examples id it
  validated in its result artifact);
- one artifact per span, the newest: a span re-ingested after its files changed appears twice in
  ML Metadata, and SpanRangeStrategy would return both.
The run's own span (`last`, with `trust_last`) counts as validated: its DataGate runs in the same
run, before anything reads the window, and halts the run if it fails. (The resolver cannot take
this run's ExampleGen output as a second channel: TFX merges two channels of one producer's
output; it runs after ExampleGen instead, which makes the new artifact one of `examples`.)

**The Evaluator's baseline**: the latest blessed model *other than the candidate*. TFX's
LatestBlessedModelStrategy returns the newest blessed model. On a rerun where the Trainer is
served from cache, that is the candidate itself: the Evaluator then compares the model with
itself (its inputs changed, so it is not cached), blesses it, and the Pusher pushes the same
model again as a new version. Resolving with the candidate excluded gives a rerun the same
baseline as the first run, so the whole run is served from cache, and a new model is still
compared with the one that was blessed before it.
"""

from __future__ import annotations

from typing import Any

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.shared.artifacts import DataValidationResult, span_of
from pipeline.dag.nodes import BASELINE_RESOLVER, EXAMPLE_GEN, NAIVE_BASELINES

EXAMPLES_KEY = "examples"
VALIDATED_KEY = "validated"
CANDIDATE_KEY = "candidate"
MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"


def validated_ids(results: list[types.Artifact]) -> set[int]:
    """Examples ids that a passing DataGate result names."""
    return {int(r.get_int_custom_property("examples_id")) for r in results
            if r.has_custom_property("examples_id") and r.get_int_custom_property("passed")}


def select_spans(examples: list[types.Artifact], validated: set[int], first: int, last: int,
                 count: int) -> list[types.Artifact]:
    """The newest validated artifact of each span in [first, last]; the `count` newest spans,
    oldest first."""
    newest: dict[int, types.Artifact] = {}
    for artifact in examples:
        span = span_of(artifact)
        if artifact.id not in validated or not first <= span <= last:
            continue
        if span not in newest or artifact.id > newest[span].id:
            newest[span] = artifact
    chosen = sorted(newest)[-count:] if count > 0 else []
    return [newest[span] for span in chosen]


class ValidatedSpansStrategy(resolver.ResolverStrategy):
    """Inputs `examples` (every ExampleGen output) and `validated` (every verdict: DataGate's
    and SpanValidation's).

    Outputs `examples`: the newest validated artifact of each of the `count` newest spans in
    [first, last], oldest span first (possibly none). With `trust_last`, the newest artifact of
    span `last` counts as validated (the run's own span, validated by the run itself).
    """

    def __init__(self, first: int, last: int, count: int, trust_last: bool = False):
        self._first, self._last, self._count = int(first), int(last), int(count)
        self._trust_last = bool(trust_last)

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        examples = list(input_dict.get(EXAMPLES_KEY, []))
        ok = validated_ids(list(input_dict.get(VALIDATED_KEY, [])))
        if self._trust_last:
            last = [a for a in examples if span_of(a) == self._last]
            if last:
                ok.add(max(last, key=lambda a: a.id).id)
        chosen = select_spans(examples, ok, self._first, self._last, self._count)
        return {EXAMPLES_KEY: chosen, VALIDATED_KEY: []}


class ExamplesByIdStrategy(resolver.ResolverStrategy):
    """Inputs `examples`; outputs those whose ML Metadata id is in `ids`, oldest span first.

    How a batch backfill names exactly the artifacts its ExampleGen runs just wrote (or found
    in the cache), rather than guessing "the newest of each span".
    """

    def __init__(self, ids: list[int]):
        self._ids = {int(i) for i in ids}

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        chosen = [a for a in input_dict.get(EXAMPLES_KEY, []) if a.id in self._ids]
        return {EXAMPLES_KEY: sorted(chosen, key=span_of)}


class LatestBlessedOtherModelStrategy(LatestBlessedModelStrategy):
    """Inputs `model`, `model_blessing` (all of them) and `candidate` (this run's Trainer output).

    Outputs the latest blessed model that is not the candidate, with its blessing, or nothing.
    """

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        candidates = {a.id for a in input_dict.get(CANDIDATE_KEY, [])}
        others = {
            MODEL_KEY: [m for m in input_dict.get(MODEL_KEY, []) if m.id not in candidates],
            MODEL_BLESSING_KEY: list(input_dict.get(MODEL_BLESSING_KEY, [])),
        }
        result = super().resolve_artifacts(store, others) or {MODEL_KEY: [], MODEL_BLESSING_KEY: []}
        result[CANDIDATE_KEY] = list(input_dict.get(CANDIDATE_KEY, []))
        return result


# ---------------------------------------------------------------------------------------------
# Resolver nodes


def example_gen_outputs() -> Channel:
    """Every Examples artifact ExampleGen produced, in any run of this pipeline."""
    return Channel(type=standard_artifacts.Examples, producer_component_id=EXAMPLE_GEN,
                   output_key="examples")


def spans_resolver(node_id: str, first: int, last: int, count: int,
                   after: Any = None) -> Resolver:
    """Validated Examples of spans [first, last] from every run; with `after` (this run's
    ExampleGen), it runs after it and takes this run's span `last` as validated.

    Verdicts come from DataGate (a span's own run) and from SpanValidation (a backfill of many
    spans): every DataValidationResult of the pipeline.
    """
    node = Resolver(
        strategy_class=ValidatedSpansStrategy,
        config={"first": first, "last": last, "count": count, "trust_last": after is not None},
        examples=example_gen_outputs(),
        validated=Channel(type=DataValidationResult),
    ).with_id(node_id)
    if after is not None:
        node.add_upstream_node(after)
    return node


def examples_by_id(node_id: str, ids: list[int]) -> Resolver:
    """ExampleGen outputs whose ML Metadata ids are `ids`, oldest span first."""
    return Resolver(strategy_class=ExamplesByIdStrategy, config={"ids": sorted(ids)},
                    examples=example_gen_outputs()).with_id(node_id)


def baseline_resolver(candidate: Channel) -> Resolver:
    """The latest blessed model other than `candidate` (this run's Trainer output)."""
    return Resolver(
        strategy_class=LatestBlessedOtherModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        # The blessings that count: NaiveBaselines' (the Evaluator's and the lift gate's).
        model_blessing=Channel(type=standard_artifacts.ModelBlessing,
                               producer_component_id=NAIVE_BASELINES, output_key="blessing"),
        candidate=candidate,
    ).with_id(BASELINE_RESOLVER)
