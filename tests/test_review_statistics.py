"""Statistics tables and distances of the review, on small hand-built FeatureStats protos, and
the guards around the official TFDV/TFMA renderers."""

from __future__ import annotations

import math
import socket

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from pipeline.review import official
from pipeline.review import statistics as stats
from pipeline.review.figures import distances_figure, distributions_figure, png_bytes


def _numeric(name: str, buckets: list[tuple[float, float, float]], missing: int = 0,
             mean: float = 0.0) -> statistics_pb2.FeatureNameStatistics:
    feature = statistics_pb2.FeatureNameStatistics(type=statistics_pb2.FeatureNameStatistics.FLOAT)
    feature.path.step.append(name)
    feature.num_stats.mean = mean
    present = int(sum(c for _, _, c in buckets))
    feature.num_stats.common_stats.num_non_missing = present
    feature.num_stats.common_stats.num_missing = missing
    histogram = feature.num_stats.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
    for low, high, count in buckets:
        histogram.buckets.add(low_value=low, high_value=high, sample_count=count)
    return feature


def _categorical(name: str, counts: dict[str, int]) -> statistics_pb2.FeatureNameStatistics:
    feature = statistics_pb2.FeatureNameStatistics(type=statistics_pb2.FeatureNameStatistics.STRING)
    feature.path.step.append(name)
    total = sum(counts.values())
    feature.string_stats.common_stats.num_non_missing = total
    feature.string_stats.common_stats.tot_num_values = total
    feature.string_stats.unique = len(counts)
    for label, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        feature.string_stats.rank_histogram.buckets.add(label=label, sample_count=count)
        feature.string_stats.top_values.add(value=label, frequency=count)
    return feature


def _dataset(*features, n: int = 100) -> statistics_pb2.DatasetFeatureStatistics:
    return statistics_pb2.DatasetFeatureStatistics(num_examples=n, features=list(features))


UNIFORM = [(0.0, 1.0, 25.0), (1.0, 2.0, 25.0), (2.0, 3.0, 25.0), (3.0, 4.0, 25.0)]


def test_jsd_is_zero_for_the_same_distribution_and_one_for_disjoint_ones():
    same = stats.distance(_numeric("x", UNIFORM), _numeric("x", UNIFORM))
    assert same == ("jensen_shannon_divergence", 0.0)
    far = [(10.0, 11.0, 50.0), (11.0, 12.0, 50.0)]
    comparator, value = stats.distance(_numeric("x", UNIFORM), _numeric("x", far))
    assert comparator == "jensen_shannon_divergence" and value == pytest.approx(1.0)


def test_jsd_of_a_half_shift_matches_the_hand_computed_value():
    # Base: uniform on [0, 4] in 4 bins. Other: all its mass on [0, 2], uniformly.
    other = [(0.0, 1.0, 50.0), (1.0, 2.0, 50.0)]
    _, value = stats.distance(_numeric("x", UNIFORM), _numeric("x", other))
    p = [0, 0.25, 0.25, 0.25, 0.25, 0]
    q = [0, 0.5, 0.5, 0, 0, 0]
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    expected = 0.5 * sum(a * math.log2(a / c) for a, c in zip(p, m, strict=True) if a) + \
        0.5 * sum(b * math.log2(b / c) for b, c in zip(q, m, strict=True) if b)
    assert value == pytest.approx(expected) and 0.3 < value < 0.4


def test_point_masses_stay_together_with_repeated_values():
    # Both have 40% zeros (a zero-width bucket); one outlier does not change the result.
    base = [(0.0, 0.0, 40.0), (0.0, 5.0, 30.0), (5.0, 10.0, 30.0)]
    with_outlier = [(0.0, 0.0, 40.0), (0.0, 5.0, 30.0), (5.0, 1000.0, 30.0)]
    _, same = stats.distance(_numeric("x", base), _numeric("x", base))
    _, outlier = stats.distance(_numeric("x", base), _numeric("x", with_outlier))
    assert same == 0.0 and outlier < 0.3


def test_l_infinity_is_the_largest_change_of_a_value_share():
    a = _categorical("pay", {"Cash": 60, "Card": 40})
    b = _categorical("pay", {"Cash": 30, "Card": 50, "Bitcoin": 20})
    assert stats.distance(a, b) == ("infinity_norm", pytest.approx(0.3))


def test_compare_ranks_exceeded_features_first_with_schema_thresholds():
    schema = text_format.Parse("""
        feature { name: "pay" type: BYTES
                  drift_comparator { infinity_norm { threshold: 0.5 } } }
        feature { name: "fare" type: FLOAT
                  drift_comparator { jensen_shannon_divergence { threshold: 0.01 } } }
    """, schema_pb2.Schema())
    base = _dataset(_categorical("pay", {"Cash": 60, "Card": 40}), _numeric("fare", UNIFORM),
                    _numeric("miles", UNIFORM))
    other = _dataset(_categorical("pay", {"Cash": 30, "Card": 70}),
                     _numeric("fare", [(0.0, 2.0, 100.0)]), _numeric("miles", UNIFORM))
    table = stats.compare(base, other, schema=schema)
    assert list(table["feature"]) == ["fare", "pay", "miles"]
    assert list(table["exceeded"]) == [True, False, False]
    default = stats.DEFAULT_THRESHOLDS["jensen_shannon_divergence"]
    assert list(table["threshold"]) == [0.01, 0.5, default]
    assert table.loc[1, "moved_most"] == "Cash: 60.0% -> 30.0%"
    assert table.attrs["caption"] == "eval compared with train"


def test_tables_per_split():
    train = _dataset(_numeric("fare", UNIFORM, missing=10, mean=2.0),
                     _categorical("pay", {"Cash": 60, "Card": 40}), n=110)
    statistics = {"train": train, "eval": train}
    numeric = stats.numeric_table(statistics)
    assert list(numeric["split"]) == ["train", "eval"]
    assert numeric.loc[0, "missing_%"] == pytest.approx(100 * 10 / 110)
    assert numeric.loc[0, "mean"] == 2.0
    categorical = stats.categorical_table(statistics)
    assert categorical.loc[0, "top_values"] == "Cash (60.0%), Card (40.0%)"
    assert stats.split_sizes(statistics) == {"train": 110, "eval": 110}


def test_figures_render_to_png():
    train = _dataset(_numeric("fare", UNIFORM), _categorical("pay", {"Cash": 60, "Card": 40}))
    other = _dataset(_numeric("fare", [(0.0, 2.0, 100.0)]),
                     _categorical("pay", {"Cash": 30, "Card": 70}))
    png = png_bytes(distributions_figure({"train": train, "eval": other}))
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    png = png_bytes(distances_figure(stats.compare(train, other)))
    assert png.startswith(b"\x89PNG")
    assert not distributions_figure({})  # NotAvailable


def test_drift_of_many_spans_is_one_grid_with_exceeded_cells_marked():
    import pandas as pd

    rows = [{"feature": feature, "comparator": comparator, "value": 0.1 * (span % 3),
             "threshold": 0.2, "exceeded": False, "span": span, "previous_span": span - 1}
            for span in range(2, 25) for feature, comparator in
            [("fare", "jensen_shannon_divergence"), ("company", "infinity_norm")]]
    rows[5].update(value=0.5, exceeded=True)  # span 4, company
    figure = distances_figure(pd.DataFrame(rows), "drift")
    grid = figure.axes[0]
    assert figure.get_size_inches()[1] < 3  # 46 bars would have been 12.9 inches tall
    assert grid.images[0].get_array().shape == (2, 23)  # features x spans
    assert [t.get_text() for t in grid.get_yticklabels()] == ["company (L-inf)", "fare (JSD)"]
    marked = grid.collections[0].get_offsets()
    assert marked.tolist() == [[2.0, 0.0]]  # column of span 4, row of company
    assert png_bytes(figure).startswith(b"\x89PNG")


def test_offline_facets_is_one_line_and_never_connects(monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise AssertionError("must not connect when TFXPIPE_OFFLINE is set")

    monkeypatch.setenv("TFXPIPE_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert official.facets_reachable() is False
    official.show_tfdv_statistics({"train": _dataset()})
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("official TFDV view (Facets) skipped:")


def test_unreachable_facets_hosts_are_detected(monkeypatch):
    def refused(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.delenv("TFXPIPE_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", refused)
    assert official.facets_reachable(timeout=0.1) is False


def test_tfma_view_without_its_extension_is_one_line(capsys):
    official.show_tfma("/nonexistent", installed=False)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("official TFMA view skipped:")
    official.show_tfma(None)
    assert "the run has no evaluation" in capsys.readouterr().out


def test_a_failing_official_renderer_is_reported_not_raised(capsys):
    official.show_tfma("/nonexistent/evaluation", installed=True)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("official TFMA view failed:")
