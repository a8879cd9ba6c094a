"""Resolves validated spans from ML Metadata: the training window, and the previous span.

A window of spans is assembled from earlier ExampleGen executions, one per span (TFX's
ExampleGen ingests a single span per execution), the way TFX's SpanRangeStrategy does, with two
differences that matter for correctness:
- only spans that passed the DataGate count: a span whose validation failed is never trained on
  or compared against (DataGate, or SpanValidation in a backfill, records the Examples id it
  validated in its result artifact);
- one artifact per span, the newest: a span re-ingested after its files changed appears twice in
  ML Metadata, and SpanRangeStrategy would return both.
The run's own span (`last`, with `trust_last`) counts as validated: its DataGate runs in the same
run, before anything reads the window, and halts the run if it fails. (The resolver cannot take
this run's ExampleGen output as a second channel: TFX merges two channels of one producer's
output; it runs after ExampleGen instead, which makes the new artifact one of `examples`.)
"""

from __future__ import annotations

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver

EXAMPLES_KEY = "examples"
VALIDATED_KEY = "validated"


def span_of(artifact: types.Artifact) -> int:
    if artifact.has_custom_property("span"):
        return int(artifact.get_int_custom_property("span"))
    return 0


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
