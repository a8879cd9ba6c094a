"""Observed value and threshold of a TFDV anomaly, read from the statistics and the schema.

TFDV's anomaly descriptions are sentences; a reviewer wants two numbers side by side: what the
data showed and what the schema allows. They are looked up per anomaly kind in the split's
statistics and the schema; a kind not handled here shows "-".
"""

from __future__ import annotations

import re

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

_TYPES = {schema_pb2.INT: "INT", schema_pb2.FLOAT: "FLOAT", schema_pb2.BYTES: "BYTES",
          schema_pb2.STRUCT: "STRUCT"}
_STAT_TYPES = {statistics_pb2.FeatureNameStatistics.INT: "INT",
               statistics_pb2.FeatureNameStatistics.FLOAT: "FLOAT",
               statistics_pb2.FeatureNameStatistics.STRING: "STRING",
               statistics_pb2.FeatureNameStatistics.BYTES: "BYTES",
               statistics_pb2.FeatureNameStatistics.STRUCT: "STRUCT"}


def _num(value: float) -> str:
    return f"{value:.6g}"


def _pct(value: float) -> str:
    return f"{100 * value:.3g}%"


def feature_stats(stats: statistics_pb2.DatasetFeatureStatisticsList | None, name: str
                  ) -> tuple[statistics_pb2.FeatureNameStatistics | None, int]:
    """(statistics of feature `name`, number of examples) of a split's statistics."""
    if stats is None or not stats.datasets:
        return None, 0
    dataset = stats.datasets[0]
    for feature in dataset.features:
        if ".".join(feature.path.step) == name or feature.name == name:
            return feature, int(dataset.num_examples)
    return None, int(dataset.num_examples)


def _common(feature: statistics_pb2.FeatureNameStatistics):
    for kind in ("num_stats", "string_stats", "bytes_stats", "struct_stats"):
        if feature.HasField(kind):
            return getattr(feature, kind).common_stats
    return statistics_pb2.CommonStatistics()


def _domain(schema: schema_pb2.Schema, feature: schema_pb2.Feature):
    kind = feature.WhichOneof("domain_info")
    if kind == "domain":
        return next((d for d in schema.string_domain if d.name == feature.domain), None)
    return getattr(feature, kind) if kind else None


def observed_and_threshold(kind: str, name: str, description: str,
                           stats: statistics_pb2.DatasetFeatureStatisticsList | None,
                           schema: schema_pb2.Schema | None) -> tuple[str, str]:
    """("observed", "threshold") for one anomaly row; "-" where nothing applies."""
    feature = next((f for f in schema.feature if f.name == name), None) if schema else None
    fstats, examples = feature_stats(stats, name)
    common = _common(fstats) if fstats is not None else None
    present = int(common.num_non_missing) if common is not None else 0

    if kind == "SCHEMA_NEW_COLUMN":
        return f"in {present} of {examples} examples", "not in the schema"
    if kind == "SCHEMA_MISSING_COLUMN":
        return "absent", "present" if feature is None else _presence(feature)
    if kind in ("FEATURE_TYPE_NOT_PRESENT", "FEATURE_TYPE_LOW_FRACTION_PRESENT",
                "FEATURE_TYPE_LOW_NUMBER_PRESENT", "INVALID_FEATURE_SHAPE"):
        with_values = _with_values(fstats, common, examples)
        if kind == "INVALID_FEATURE_SHAPE":
            return with_values, "a value in every example"
        return with_values, _presence(feature) if feature is not None else "-"
    if kind == "UNEXPECTED_DATA_TYPE":
        observed = _STAT_TYPES.get(fstats.type, "?") if fstats is not None else "?"
        return observed, _TYPES.get(feature.type, "?") if feature is not None else "-"
    if kind in ("FLOAT_TYPE_STRING_NOT_FLOAT", "INT_TYPE_NOT_INT_STRING",
                "FLOAT_TYPE_NON_STRING", "INT_TYPE_NOT_INT"):
        example = re.search(r'such as "([^"]*)"', description)
        return (f'"{example.group(1)}"' if example else "non-numeric text"), "numbers only"
    if kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES":
        share = re.search(r"\(~?([0-9.]+)%\)", description)
        observed = f"{share.group(1)}% unseen" if share else "unseen values"
        if feature is not None and feature.distribution_constraints.HasField("min_domain_mass"):
            allowed = 1.0 - feature.distribution_constraints.min_domain_mass
            return observed, f"<= {_pct(allowed)} unseen"
        return observed, "0% unseen"
    if kind in ("FLOAT_TYPE_SMALL_FLOAT", "INT_TYPE_SMALL_INT", "FLOAT_TYPE_BIG_FLOAT",
                "INT_TYPE_BIG_INT"):
        low = kind.endswith("SMALL_FLOAT") or kind.endswith("SMALL_INT")
        side, sign = ("min", ">=") if low else ("max", "<=")
        observed = "-"
        if fstats is not None and fstats.HasField("num_stats"):
            observed = f"{side} {_num(getattr(fstats.num_stats, side))}"
        domain = _domain(schema, feature) if feature is not None else None
        bound = "-"
        if domain is not None and domain.HasField(side):
            bound = f"{sign} {_num(getattr(domain, side))}"
        return observed, bound
    if kind in ("FEATURE_TYPE_LOW_NUMBER_VALUES", "FEATURE_TYPE_HIGH_NUMBER_VALUES"):
        low = "LOW" in kind
        observed = "-"
        if common is not None:
            observed = (f"min {common.min_num_values} values" if low
                        else f"max {common.max_num_values} values")
        bound = "-"
        if feature is not None and feature.HasField("value_count"):
            bound = (f">= {feature.value_count.min} values" if low
                     else f"<= {feature.value_count.max} values")
        return observed, bound
    return "-", "-"


def _presence(feature: schema_pb2.Feature) -> str:
    presence = feature.presence
    parts = []
    if presence.min_fraction:
        parts.append(f"present in >= {_pct(presence.min_fraction)}")
    if presence.min_count:
        parts.append(f">= {presence.min_count} examples")
    return ", ".join(parts) or "present"


def _with_values(fstats, common, examples: int) -> str:
    if fstats is None or common is None:
        return f"no values in {examples} examples"
    if common.max_num_values <= 1:  # one value or none: the values are the examples having one
        return f"a value in {int(common.tot_num_values)} of {examples} examples"
    return (f"present in {int(common.num_non_missing)} of {examples} examples, "
            f"{common.min_num_values}-{common.max_num_values} values each")
