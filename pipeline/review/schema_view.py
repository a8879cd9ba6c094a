"""The schema a run validated against, as a table a reviewer can read."""

from __future__ import annotations

import os

import pandas as pd
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

SCHEMA_FILE = "schema.pbtxt"


def load_schema(schema_uri_or_file: str) -> schema_pb2.Schema:
    """A Schema artifact's folder (holding schema.pbtxt) or a schema.pbtxt file."""
    path = schema_uri_or_file
    if os.path.isdir(path):
        path = os.path.join(path, SCHEMA_FILE)
    with open(path, encoding="utf-8") as handle:
        return text_format.Parse(handle.read(), schema_pb2.Schema())


def _domain(feature: schema_pb2.Feature, domains: dict[str, schema_pb2.StringDomain]) -> str:
    kind = feature.WhichOneof("domain_info")
    if kind == "domain":
        values = list(domains[feature.domain].value) if feature.domain in domains else []
        return _values(feature.domain, values)
    if kind == "string_domain":
        return _values(feature.string_domain.name or "inline", list(feature.string_domain.value))
    if kind == "int_domain":
        d = feature.int_domain
        bounds = (f"[{d.min if d.HasField('min') else '-inf'}, "
                  f"{d.max if d.HasField('max') else 'inf'}]")
        return f"int {bounds}" + (" categorical" if d.is_categorical else "")
    if kind == "float_domain":
        d = feature.float_domain
        return (f"float [{d.min if d.HasField('min') else '-inf'}, "
                f"{d.max if d.HasField('max') else 'inf'}]")
    return kind or ""


def _values(name: str, values: list[str]) -> str:
    shown = ", ".join(values[:4]) + (", …" if len(values) > 4 else "")
    return f"{name}: {len(values)} values ({shown})"


def _comparator(comparator: schema_pb2.FeatureComparator) -> str:
    parts = []
    if comparator.HasField("infinity_norm"):
        parts.append(f"L-inf <= {comparator.infinity_norm.threshold:g}")
    if comparator.HasField("jensen_shannon_divergence"):
        parts.append(f"JSD <= {comparator.jensen_shannon_divergence.threshold:g}")
    return ", ".join(parts)


def schema_table(schema: schema_pb2.Schema) -> pd.DataFrame:
    """One row per feature: type, presence, valency, domain, environments and comparators."""
    domains = {d.name: d for d in schema.string_domain}
    rows = []
    for feature in schema.feature:
        presence = feature.presence
        valency = ""
        if feature.HasField("value_count"):
            vc = feature.value_count
            valency = f"{vc.min}..{vc.max}" if vc.max else f">= {vc.min}"
        elif feature.HasField("shape"):
            valency = "shape " + ("x".join(str(d.size) for d in feature.shape.dim) or "scalar")
        min_mass = (feature.distribution_constraints.min_domain_mass
                    if feature.HasField("distribution_constraints") else None)
        rows.append({
            "feature": feature.name,
            "type": schema_pb2.FeatureType.Name(feature.type),
            "required_fraction": presence.min_fraction if presence.HasField("min_fraction")
            else 0.0,
            "valency": valency,
            "domain": _domain(feature, domains),
            "min_domain_mass": min_mass,
            "not_in_environment": ", ".join(feature.not_in_environment),
            "drift": _comparator(feature.drift_comparator),
            "skew": _comparator(feature.skew_comparator),
        })
    frame = pd.DataFrame(rows, columns=["feature", "type", "required_fraction", "valency",
                                        "domain", "min_domain_mass", "not_in_environment",
                                        "drift", "skew"])
    frame.attrs["empty"] = "the schema lists no features"
    return frame
