"""`tfxpipe schema`: infer a schema from one span and show how it differs from the curated one.

The curated schema is the reviewed contract of the data; the pipeline never replaces it. When
data changes (a new column, a new category, a wider range), a reviewer wants to see what a fresh
inference would say, side by side with what was agreed. This command writes the inferred schema
and a readable diff under `outputs/<pipeline>/schema_review/span-<N>/` and prints the diff. It
changes nothing else: editing the curated schema stays a reviewed change.

Statistics are computed from the span's CSV files read as the pipeline's ExampleGen reads them
(the same reader, delimiter and missing values), so types are inferred as the pipeline would
infer them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.shared.files import to_json, write_atomically
from pipeline.config import Config, ConfigError
from pipeline.inputs.preflight import check_files, load_schema
from pipeline.inputs.sources import input_location
from pipeline.inputs.spans import discover, select

TYPES = {schema_pb2.INT: "INT", schema_pb2.FLOAT: "FLOAT", schema_pb2.BYTES: "BYTES",
         schema_pb2.STRUCT: "STRUCT", schema_pb2.TYPE_UNKNOWN: "UNKNOWN"}


@dataclass(frozen=True)
class Difference:
    feature: str
    aspect: str        # new column, missing column, type, presence, values, domain, range, shape
    curated: str
    inferred: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"feature": self.feature, "aspect": self.aspect, "curated": self.curated,
                "inferred": self.inferred, "note": self.note}


def _presence(feature: schema_pb2.Feature) -> str:
    if not feature.HasField("presence"):
        return "not required"
    p = feature.presence
    return f"min_fraction {p.min_fraction:g}, min_count {p.min_count}"


def _values(feature: schema_pb2.Feature) -> str:
    if feature.HasField("shape"):
        return "exactly " + "x".join(str(d.size) for d in feature.shape.dim)
    if feature.HasField("value_count"):
        count = feature.value_count
        return f"{count.min}..{count.max or 'any'} values"
    return "any number"


def _string_domain(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> list[str] | None:
    if feature.HasField("string_domain"):
        return list(feature.string_domain.value)
    if feature.HasField("domain"):
        found = next((d for d in schema.string_domain if d.name == feature.domain), None)
        return list(found.value) if found else None
    return None


def _stats_by_name(stats: statistics_pb2.DatasetFeatureStatisticsList
                   ) -> dict[str, statistics_pb2.FeatureNameStatistics]:
    if not stats.datasets:
        return {}
    return {".".join(f.path.step) or f.name: f for f in stats.datasets[0].features}


def diff_schemas(curated: schema_pb2.Schema, inferred: schema_pb2.Schema,
                 stats: statistics_pb2.DatasetFeatureStatisticsList | None = None
                 ) -> list[Difference]:
    """What a reviewer should look at: differences that change what the data may hold."""
    cur = {f.name: f for f in curated.feature}
    inf = {f.name: f for f in inferred.feature}
    by_name = _stats_by_name(stats) if stats is not None else {}
    diffs: list[Difference] = []
    for name in sorted(set(inf) - set(cur)):
        diffs.append(Difference(name, "new column", "-", TYPES.get(inf[name].type, "?"),
                                "in the data, not in the curated schema (the gate halts or "
                                "reports it: validation.new_columns)"))
    for name in sorted(set(cur) - set(inf)):
        required = cur[name].presence.min_count > 0 or cur[name].presence.min_fraction > 0
        diffs.append(Difference(name, "missing column", TYPES.get(cur[name].type, "?"), "-",
                                "required by the curated schema" if required else
                                "optional in the curated schema"))
    for name in sorted(set(cur) & set(inf)):
        c, i = cur[name], inf[name]
        observed = by_name.get(name)
        if observed is not None and _all_missing(observed):
            diffs.append(Difference(name, "empty column", TYPES.get(c.type, "?"), "no values",
                                    "every cell of this span is empty"))
            continue  # nothing else can be inferred from it
        # CsvExampleGen writes an empty cell as a feature with no values (the curated schema
        # says 0..1 values, present in every example); the CSV decoder used here reads it as a
        # missing feature. The two say the same thing: not a difference to review.
        empty_cells = c.HasField("value_count") and c.value_count.min == 0
        if c.type != i.type:
            diffs.append(Difference(name, "type", TYPES.get(c.type, "?"),
                                    TYPES.get(i.type, "?")))
        if _presence(c) != _presence(i) and not empty_cells and (
                i.presence.min_fraction < c.presence.min_fraction):
            diffs.append(Difference(name, "presence", _presence(c), _presence(i),
                                    "present in fewer examples than the curated schema asks"))
        same = _bounds(c) == _bounds(i) or (empty_cells and (
            _within(c, i) or _counts_within(c, observed)))
        if _values(c) != _values(i) and not same:
            diffs.append(Difference(name, "values per example", _values(c), _values(i)))
        c_domain, i_domain = _string_domain(curated, c), _string_domain(inferred, i)
        if c_domain is not None and i_domain is not None:
            unseen = sorted(set(i_domain) - set(c_domain))
            if unseen:
                shown = ", ".join(unseen[:8]) + (f" and {len(unseen) - 8} more"
                                                 if len(unseen) > 8 else "")
                diffs.append(Difference(name, "domain", f"{len(c_domain)} values",
                                        f"{len(i_domain)} values",
                                        f"values not in the curated domain: {shown}"))
        diffs += _range_differences(name, c, observed)
    return diffs


def _all_missing(observed: statistics_pb2.FeatureNameStatistics) -> bool:
    kind = observed.WhichOneof("stats")
    common = getattr(observed, kind).common_stats if kind else None
    return common is not None and common.num_missing > 0 and common.num_non_missing == 0


def _counts_within(curated: schema_pb2.Feature,
                   observed: statistics_pb2.FeatureNameStatistics | None) -> bool:
    """Whether every example's number of values fits the curated bounds (TFDV infers no bound
    when some examples have none, as empty cells do)."""
    limits = _bounds(curated)
    kind = observed.WhichOneof("stats") if observed is not None else None
    if limits is None or kind is None:
        return False
    common = getattr(observed, kind).common_stats
    return common.min_num_values >= limits[0] and (
        not limits[1] or common.max_num_values <= limits[1])


def _bounds(feature: schema_pb2.Feature) -> tuple[int, int] | None:
    """(min, max) values per example (max 0: no bound); None when the schema says nothing."""
    if feature.HasField("shape"):
        size = 1
        for dim in feature.shape.dim:
            size *= dim.size
        return size, size
    if feature.HasField("value_count"):
        return feature.value_count.min, feature.value_count.max
    return None


def _within(curated: schema_pb2.Feature, inferred: schema_pb2.Feature) -> bool:
    """Whether the inferred values per example fit the curated bounds."""
    bounds, limits = _bounds(inferred), _bounds(curated)
    if bounds is None or limits is None:
        return False
    return bounds[0] >= limits[0] and (not limits[1] or 0 < bounds[1] <= limits[1])


def _range_differences(name: str, curated: schema_pb2.Feature,
                       observed: statistics_pb2.FeatureNameStatistics | None
                       ) -> list[Difference]:
    kind = curated.WhichOneof("domain_info")
    if kind not in ("float_domain", "int_domain") or observed is None:
        return []
    if not observed.HasField("num_stats"):
        return []
    domain = getattr(curated, kind)
    low = domain.min if domain.HasField("min") else None
    high = domain.max if domain.HasField("max") else None
    seen_low, seen_high = observed.num_stats.min, observed.num_stats.max
    if (low is not None and seen_low < low) or (high is not None and seen_high > high):
        return [Difference(name, "range", f"[{_fmt(low)}, {_fmt(high)}]",
                           f"[{seen_low:g}, {seen_high:g}] observed",
                           "values outside the curated range")]
    return []


def _fmt(value: Any) -> str:
    return "-inf/+inf" if value is None else f"{value:g}"


def render(diffs: list[Difference], compared: int, header: str) -> list[str]:
    lines = [header]
    if not diffs:
        lines.append(f"  no differences: the {compared} features agree with the curated schema")
        return lines
    width = max(len(d.feature) for d in diffs)
    aspect = max(len(d.aspect) for d in diffs)
    for d in diffs:
        lines.append(f"  {d.feature:<{width}}  {d.aspect:<{aspect}}  curated: {d.curated}  "
                     f"inferred: {d.inferred}" + (f"  ({d.note})" if d.note else ""))
    lines.append(f"  {len(diffs)} difference(s) over {compared} features; the curated schema "
                 "is unchanged: edit it by review if the data is right")
    return lines


def review(config: Config, span: int | None, output: str | None) -> tuple[list[str], Path]:
    """Infers a schema from a span's files and writes it with the diff; returns the report."""
    if not config.schema.path:
        raise ConfigError("no curated schema to compare with: set 'schema.path' or add "
                          f"schemas/{config.pipeline.name}/schema.pbtxt")
    chosen, files, stats, inferred = _infer(config, span)
    curated = load_schema(config.schema.path)
    diffs = diff_schemas(curated, inferred, stats)
    folder = Path(output) if output else config.pipeline_dir / "schema_review" / f"span-{chosen}"
    write_atomically(folder / "schema.inferred.pbtxt",
                     f"# Inferred by 'tfxpipe schema' from span {chosen} ({', '.join(files)}).\n"
                     "# For review only: the pipeline uses the curated schema.\n"
                     + text_format.MessageToString(inferred))
    rows = stats.datasets[0].num_examples if stats.datasets else 0
    header = (f"schema review: span {chosen} ({len(files)} file(s), {rows} rows) against "
              f"{config.schema.path}")
    lines = render(diffs, len(set(f.name for f in curated.feature)
                              | set(f.name for f in inferred.feature)), header)
    write_atomically(folder / "schema.diff.txt", "\n".join(lines) + "\n")
    write_atomically(folder / "schema.diff.json", to_json(
        {"span": chosen, "files": files, "curated": config.schema.path,
         "differences": [d.as_dict() for d in diffs]}))
    return lines, folder


def _infer(config: Config, span: int | None) -> tuple[int, list[str], Any, schema_pb2.Schema]:
    """(span, its files, their statistics, the schema TFDV infers from them): the files read
    as ExampleGen reads them (delimiter, missing values), typed as their values say."""
    # TensorFlow, TFDV and Arrow load here, inside the log redirection.
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics.stats_impl import generate_statistics_in_memory
    from tfx_bsl.coders import example_coder

    from components.csv_example_gen.reading import encode_file, span_types
    from pipeline.dag.example_gen import csv_format

    input_base, pattern = input_location(config)
    found = discover(input_base, pattern)
    chosen = select(list(found), span or 0, 1, input_base, pattern).target
    files = found[chosen]
    # An unreadable file: its one line. Columns the schema lacks are what the diff shows.
    checked = check_files(config, {chosen: files}, contract=False)
    fmt = csv_format(config, checked.delimiter)
    types = span_types(files, fmt)
    examples = [e for path in files for e in encode_file(path, types, fmt)]
    batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(examples)
    stats = generate_statistics_in_memory(batch)
    return chosen, files, stats, tfdv.infer_schema(stats, infer_feature_shape=True)
