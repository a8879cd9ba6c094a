"""Spans: the taxi sample as monthly spans, span discovery and selection, and the resolver's
choice of validated spans."""

from __future__ import annotations

import os

import pytest

from pipeline.config import ConfigError
from pipeline.inputs import spans
from pipeline.inputs.sources import materialize_taxi, month_span


def test_month_span_counts_calendar_months_from_2013_01():
    assert month_span(1357000000) == (1, "2013-01")       # 2013-01-01 00:26 UTC
    assert month_span(1483116000) == (48, "2016-12")      # 2016-12-30
    assert month_span(1388534400) == (13, "2014-01")      # 2014-01-01 00:00 UTC


def test_taxi_is_materialised_as_48_monthly_spans_in_time_order(tmp_path):
    written = materialize_taxi(tmp_path)
    assert sorted(written) == list(range(1, 49))
    assert written[1].relative_to(tmp_path).as_posix() == "span-1/2013-01.csv"
    assert written[48].relative_to(tmp_path).as_posix() == "span-48/2016-12.csv"
    rows = {s: sum(1 for _ in open(p)) - 1 for s, p in written.items()}
    assert sum(rows.values()) == 15002
    assert (rows[1], rows[37], rows[48]) == (256, 69, 72)
    found = spans.discover(tmp_path, "span-{SPAN}/*.csv")
    assert sorted(found) == list(range(1, 49))


def test_unchanged_spans_are_not_rewritten_and_stale_ones_are_removed(tmp_path):
    written = materialize_taxi(tmp_path)
    before = {s: os.stat(p).st_mtime_ns for s, p in written.items()}
    assert {s: os.stat(p).st_mtime_ns for s, p in materialize_taxi(tmp_path).items()} == before
    sampled = materialize_taxi(tmp_path, sample_rows=100)  # 100 rows over a few months only
    left = spans.discover(tmp_path, "span-{SPAN}/*.csv")
    assert sorted(left) == sorted(sampled) and len(sampled) < 48
    assert sum(sum(1 for _ in open(p)) - 1 for p in sampled.values()) == 100


def test_discovery_matches_like_example_gen(tmp_path):
    for relative in ["span-1/a.csv", "span-2/a.csv", "span-2/b.csv", "span-10/x.csv",
                     "span-x/a.csv", "span-3/a.txt", "other/a.csv"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("a\n1\n")
    found = spans.discover(tmp_path, "span-{SPAN}/*.csv")
    assert {s: [os.path.basename(p) for p in f] for s, f in found.items()} == {
        1: ["a.csv"], 2: ["a.csv", "b.csv"], 10: ["x.csv"]}
    two_digits = spans.discover(tmp_path, "span-{SPAN:2}/*.csv")
    assert two_digits == {10: [str(tmp_path / "span-10/x.csv")]}
    assert list(spans.discover(tmp_path, "other/*.csv")) == [0]  # no {SPAN}: one span, 0


def test_selection_of_target_window_and_previous_span():
    chosen = spans.select([1, 2, 3, 5, 6], 0, 3, "/data", "span-{SPAN}/*.csv")
    assert (chosen.target, chosen.window, chosen.previous) == (6, [5, 6], 5)
    assert chosen.backfill == [5]
    replay = spans.select([1, 2, 3, 5, 6], 3, 2, "/data", "span-{SPAN}/*.csv")
    assert (replay.target, replay.window, replay.previous) == (3, [2, 3], 2)
    assert spans.select([4], 0, 1, "/data", "span-{SPAN}/*.csv").previous is None


def test_unsupported_patterns_and_missing_spans_are_usage_errors():
    with pytest.raises(ConfigError, match="span 9 does not exist.*spans available: 1-3, 5"):
        spans.select([1, 2, 3, 5], 9, 1, "/data", "span-{SPAN}/*.csv")
    with pytest.raises(ConfigError, match="YYYY"):
        spans.check_pattern("{YYYY}-{MM}-{DD}/*.csv")
    with pytest.raises(ConfigError, match="no {SPAN}"):
        spans.select([0], 4, 1, "/data", "data.csv")


class _Artifact:
    def __init__(self, id_: int, span: int):
        self.id = id_
        self._span = span

    def has_custom_property(self, name):
        return name == "span"

    def get_int_custom_property(self, name):
        return self._span


def test_resolver_takes_the_newest_validated_artifact_of_each_span():
    from pipeline.dag.resolvers import select_spans

    # Span 2 was ingested twice (its file changed): artifacts 2 and 5. Span 3 failed validation.
    examples = [_Artifact(1, 1), _Artifact(2, 2), _Artifact(3, 3), _Artifact(4, 4),
                _Artifact(5, 2)]
    validated = {1, 2, 4, 5}
    chosen = select_spans(examples, validated, first=1, last=4, count=4)
    assert [(a.id, a._span) for a in chosen] == [(1, 1), (5, 2), (4, 4)]
    # The previous span of span 4: the newest validated span before it.
    [previous] = select_spans(examples, validated, first=0, last=3, count=1)
    assert (previous.id, previous._span) == (5, 2)


def test_a_batch_backfill_takes_spans_up_to_a_gap_of_available_spans():
    from pipeline.orchestration.backfill import following_spans

    available = [1, 2, 3, 5, 6, 7, 8]
    # 4 does not exist: 3 -> 5 follow each other. 7 is available and not in the list (it was
    # validated before): 8's drift baseline is 7, so 8 waits for the per-span backfill.
    assert following_spans([2, 3, 5, 6, 8], available) == [2, 3, 5, 6]
    assert following_spans([8], available) == [8]
    assert following_spans([], available) == []
