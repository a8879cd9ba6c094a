"""Drift and skew rows from TFDV's comparators: what was measured, against which threshold.

`tfdv.validate_statistics` with `previous_statistics` applies each feature's `drift_comparator`,
with `serving_statistics` its `skew_comparator`, and records every measurement in the anomalies'
`drift_skew_info`, exceeded or not. Rows are kept for all of them so values can be trended.
"""

from __future__ import annotations

import copy
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components.data_drift.params import LabelSpec

LABEL_FEATURE = "label"
COMPARATORS = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "infinity_norm",
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
        "jensen_shannon_divergence",
    anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE:
        "normalized_abs_difference",
}


def label_feature_name(schema: schema_pb2.Schema) -> str:
    """'label', or the model's own name for it when the data has a column called so."""
    names = {f.name for f in schema.feature}
    return LABEL_FEATURE if LABEL_FEATURE not in names else "label_xf"


def comparison_schema(schema: schema_pb2.Schema, label: LabelSpec
                      ) -> tuple[schema_pb2.Schema, str]:
    """The curated schema plus the model's label as a feature with its own drift comparator.

    The label is compared for drift only: train and eval come from one hash split, so the
    label's skew is a question of the split, not of the data. A class label is compared by
    L-infinity distance; a regression label has no TFDV comparator (`mean_shift` measures it in
    its own units).
    """
    extended = copy.deepcopy(schema)
    name = label_feature_name(schema)
    feature = extended.feature.add()
    feature.name = name
    if label.categorical:
        feature.type = schema_pb2.BYTES
        feature.drift_comparator.infinity_norm.threshold = label.drift_threshold
    else:
        feature.type = schema_pb2.FLOAT
    return extended, name


def mean_shift(statistics: statistics_pb2.DatasetFeatureStatisticsList,
               previous: statistics_pb2.DatasetFeatureStatisticsList, feature: str,
               threshold: float, spans: tuple[int, int]) -> dict[str, Any] | None:
    """A regression label's drift: how far its mean moved, in standard deviations of the
    previous span's label (None when either span has no value)."""
    now, before = _numeric(statistics, feature), _numeric(previous, feature)
    if now is None or before is None:
        return None
    delta = now.mean - before.mean
    value = abs(delta) / before.std_dev if before.std_dev > 0 else (0.0 if delta == 0 else
                                                                     float("inf"))
    return {"feature": feature, "comparator": "mean_shift", "value": round(value, 6),
            "threshold": threshold, "exceeded": bool(value > threshold),
            "span": spans[0], "previous_span": spans[1],
            "means": [before.mean, now.mean], "previous_std": before.std_dev}


def _numeric(statistics: statistics_pb2.DatasetFeatureStatisticsList, feature: str):
    for dataset in statistics.datasets:
        for stats in dataset.features:
            if ".".join(stats.path.step) == feature and stats.HasField("num_stats"):
                present = stats.num_stats.common_stats.num_non_missing
                return stats.num_stats if present else None
    return None


def _measurements(anomalies: anomalies_pb2.Anomalies, field: str) -> list[dict[str, Any]]:
    rows = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for measurement in getattr(info, field):
            rows.append({
                "feature": feature,
                "comparator": COMPARATORS.get(measurement.type, "unknown"),
                "value": round(float(measurement.value), 6),
                "threshold": float(measurement.threshold),
                "exceeded": bool(measurement.value > measurement.threshold),
            })
    return sorted(rows, key=lambda r: (not r["exceeded"], r["feature"]))


def drift_rows(statistics: statistics_pb2.DatasetFeatureStatisticsList,
               previous: statistics_pb2.DatasetFeatureStatisticsList,
               schema: schema_pb2.Schema, span: int, previous_span: int
               ) -> list[dict[str, Any]]:
    """One row per feature with a drift comparator: this span against the previous one."""
    import tensorflow_data_validation as tfdv

    anomalies = tfdv.validate_statistics(statistics, schema, previous_statistics=previous)
    return [{**row, "span": span, "previous_span": previous_span}
            for row in _measurements(anomalies, "drift_measurements")]


def judged(rows: list[dict[str, Any]], statistics: statistics_pb2.DatasetFeatureStatisticsList,
           previous: statistics_pb2.DatasetFeatureStatisticsList, min_examples: int
           ) -> list[dict[str, Any]]:
    """Drift rows marked judged (can halt) or not: both spans need `min_examples` examples."""
    counts = {"span": _examples(statistics), "previous_span": _examples(previous)}
    judged_now = min(counts.values()) >= min_examples
    note = "" if judged_now else (f"not judged: {min(counts.values())} example(s) in the smaller "
                                  f"span, fewer than {min_examples} (validation.min_examples)")
    return [{**row, "examples": counts, "judged": judged_now, **({"note": note} if note else {})}
            for row in rows]


def skew_rows(train: statistics_pb2.DatasetFeatureStatisticsList,
              eval_: statistics_pb2.DatasetFeatureStatisticsList,
              schema: schema_pb2.Schema, spans: list[int], min_examples: int = 0
              ) -> list[dict[str, Any]]:
    """One row per feature with a skew comparator: the window's train split against eval.

    "judged" is false when a split has fewer than `min_examples` examples: the value is
    recorded, but it is mostly sampling noise and does not halt.
    """
    import tensorflow_data_validation as tfdv

    counts = {"train": _examples(train), "eval": _examples(eval_)}
    judged = min(counts.values()) >= min_examples
    anomalies = tfdv.validate_statistics(train, schema, serving_statistics=eval_)
    return [{**row, "splits": ["train", "eval"], "spans": spans, "examples": counts,
             "judged": judged}
            for row in _measurements(anomalies, "skew_measurements")]


def _examples(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> int:
    return int(statistics.datasets[0].num_examples) if statistics.datasets else 0


def counts(statistics: statistics_pb2.DatasetFeatureStatisticsList, feature: str
           ) -> dict[str, int]:
    """{value: examples} of a categorical feature, from its rank histogram."""
    for dataset in statistics.datasets:
        for stats in dataset.features:
            if ".".join(stats.path.step) != feature or not stats.HasField("string_stats"):
                continue
            return {b.label: int(round(b.sample_count))
                    for b in stats.string_stats.rank_histogram.buckets}
    return {}


def distribution(statistics: statistics_pb2.DatasetFeatureStatisticsList, feature: str
                 ) -> dict[str, float]:
    """{value: share} of a categorical feature, from its rank histogram (for the report)."""
    found = counts(statistics, feature)
    total = sum(found.values())
    return {value: round(n / total, 4) for value, n in found.items()} if total else {}
