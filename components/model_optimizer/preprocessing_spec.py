"""What a device client needs to compute the transformed features itself, read off the Transform
graph: `preprocessing.json`, shipped beside each .tflite.

A TFLite model holds only the Keras model on transformed features: the tf.Transform graph cannot
go inside it (its vocabulary lookups are hash tables that the TFLite runtime cannot initialise).
So the constants of the transform are written out instead: per numeric feature the imputation
value, mean and standard deviation (and bucket boundaries), per categorical feature its
vocabulary and out-of-vocabulary buckets. `device_client.py` is a reference implementation of
the rules written in the file.

The numbers are measured from the Transform graph itself, by running it on probe inputs, rather
than recomputed from data, so the file states what the graph does, whatever analyzer produced it:
- mean and std: two probe values near the mean give z-scores near 0 and 1 (float32 outputs,
  so the recovered constants are exact to about 1e-7 relative);
- imputation: a missing value (NaN, or an absent optional feature) gives the fill's z-score;
- bucket boundaries: bisection over every float32 (or int64) value for the smallest input that
  reaches each bucket id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

PREPROCESSING_FILE = "preprocessing.json"
FORMAT = "tabular-tfx-preprocessing/1"
RULES = {
    "numeric": "z = (x - mean) / std, where x is the raw value as float32, or `fill` when the "
               "value is missing or NaN",
    "bucket": "id = number of `boundaries` <= x (x as for numeric, after the fill)",
    "categorical": "text = the raw value as text (integers in decimal), `missing` when missing "
                   "or empty; id = its line in `vocabulary` (0-based), else "
                   "len(vocabulary) + Fingerprint64(text) % oov_buckets (FarmHash "
                   "Fingerprint64 of the UTF-8 text, as tf.strings.to_hash_bucket_fast and "
                   "pyfarmhash compute it)",
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT_RANGE = 2**31


class _Probe:
    """Runs the Transform graph on a batch of raw rows given column by column."""

    def __init__(self, sources: set[str], output: tft.TFTransformOutput):
        # The raw columns the model inputs come from, parsed as Transform parsed them.
        self.spec = {name: spec for name, spec in output.raw_feature_spec().items()
                     if name in sources}
        layer = output.transform_features_layer()
        # Traced once: the bisection below calls it about 35 times, and eagerly each call
        # dispatches every op of the whole Transform graph again.
        self.transform = tf.function(
            lambda serialized: layer(tf.io.parse_example(serialized, self.spec)),
            input_signature=[tf.TensorSpec([None], tf.string)])

    def is_float(self, column: str) -> bool:
        return self.spec[column].dtype == tf.float32

    def optional(self, column: str) -> bool:
        return isinstance(self.spec[column], tf.io.VarLenFeature)

    def base_value(self, column: str) -> Any:
        return {tf.float32: 0.0, tf.int64: 0, tf.string: b"probe"}[self.spec[column].dtype]

    def __call__(self, columns: dict[str, list[Any]]) -> dict[str, np.ndarray]:
        """`columns`: a list of values per raw column (None = absent); unset columns get a base
        value. Returns every transformed feature, flattened to one value per row."""
        rows = len(next(iter(columns.values())))
        examples = []
        for i in range(rows):
            feature = {}
            for column, spec in self.spec.items():
                value = columns[column][i] if column in columns else self.base_value(column)
                if value is None:
                    continue
                if spec.dtype == tf.float32:
                    feature[column] = tf.train.Feature(
                        float_list=tf.train.FloatList(value=[float(value)]))
                elif spec.dtype == tf.int64:
                    feature[column] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[int(value)]))
                else:
                    feature[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
            examples.append(tf.train.Example(features=tf.train.Features(feature=feature))
                            .SerializeToString())
        return {name: tensor.numpy().reshape(rows)
                for name, tensor in self.transform(tf.constant(examples)).items()}


def _raw(value: float, is_float: bool) -> float | int:
    return float(np.float32(value)) if is_float else int(round(value))


def _z_constants(probe: _Probe, outputs: dict[str, str]) -> dict[str, dict[str, float | None]]:
    """mean, std and fill of each numeric column ({raw column: its z-score output}), from its
    z-scores at probe values."""
    columns = list(outputs)
    if not columns:
        return {}
    coarse = probe({c: [_raw(0, probe.is_float(c)), _raw(1, probe.is_float(c))] for c in columns})
    lows, highs = {}, {}
    for column in columns:
        z0, z1 = coarse[outputs[column]].astype(np.float64)
        std = 1.0 / (z1 - z0)
        mean = -z0 * std
        # Again near the mean, where the float32 z-scores (about 0 and 1) lose no precision.
        lows[column] = _raw(mean, probe.is_float(column))
        high = _raw(mean + std, probe.is_float(column))
        highs[column] = high if high != lows[column] else lows[column] + 1
    # The third probe is a missing value: NaN for a float, an absent value for an optional
    # integer; a required integer (no row ever lacked it) cannot be missing.
    fine = probe({c: [lows[c], highs[c], float("nan") if probe.is_float(c)
                      else None if probe.optional(c) else lows[c]] for c in columns})
    result = {}
    for column in columns:
        za, zb, z_missing = fine[outputs[column]].astype(np.float64)
        std = (highs[column] - lows[column]) / (zb - za)
        mean = lows[column] - za * std
        can_be_missing = probe.is_float(column) or probe.optional(column)
        result[column] = {"mean": mean, "std": std,
                          "fill": mean + z_missing * std if can_be_missing else None}
    return result


def _to_ordered(values: np.ndarray) -> np.ndarray:
    """float32 -> int64 whose order is the floats' order (so bisection can run on integers)."""
    bits = values.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))


def _from_ordered(ordered: np.ndarray) -> np.ndarray:
    bits = np.where(ordered >= 0, ordered, (-ordered) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def _boundaries(probe: _Probe, outputs: dict[str, str]) -> dict[str, list[float | int]]:
    """The smallest raw value reaching each bucket id, per bucketized column ({raw column: its
    bucket id output}), by bisection."""
    columns = list(outputs)
    if not columns:
        return {}

    def bucket_ids(points: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {}
        for column, ordered in points.items():
            raw = _from_ordered(ordered) if probe.is_float(column) else ordered
            values[column] = [_raw(v, probe.is_float(column)) for v in raw]
        out = probe(values)
        return {c: out[outputs[c]].astype(np.int64) for c in points}

    limit = {c: (_to_ordered(np.array([-_FLOAT32_MAX, _FLOAT32_MAX]))
                 if probe.is_float(c) else np.array([-_INT_RANGE, _INT_RANGE])) for c in columns}
    ends = bucket_ids({c: limit[c] for c in columns})
    # Search k = lowest+1 .. highest: lo stays below bucket k, hi reaches it.
    targets = {c: np.arange(ends[c][0] + 1, ends[c][1] + 1) for c in columns}
    width = max([len(t) for t in targets.values()] + [1])
    lo = {c: np.full(width, limit[c][0]) for c in columns}
    hi = {c: np.full(width, limit[c][1]) for c in columns}
    while any(np.any(hi[c][: len(targets[c])] - lo[c][: len(targets[c])] > 1) for c in columns):
        mid = {c: (lo[c] + hi[c]) // 2 for c in columns}
        ids = bucket_ids(mid)
        for c in columns:
            wanted = np.full(width, np.iinfo(np.int64).max)
            wanted[: len(targets[c])] = targets[c]
            reached = ids[c] >= wanted
            hi[c] = np.where(reached, mid[c], hi[c])
            lo[c] = np.where(reached, lo[c], mid[c])
    result = {}
    for c in columns:
        found = hi[c][: len(targets[c])]
        result[c] = ([float(v) for v in _from_ordered(found)] if probe.is_float(c)
                     else [int(v) for v in found])
    return result


def describe(inputs: list[dict[str, Any]], output: tft.TFTransformOutput,
             outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of preprocessing.json: one entry per model input, in the model's order, and
    what the model's output means (`outputs`: the label's kind and classes in output order).

    `inputs`: the user module's description of each model input (`name`, `source`, `kind`:
    numeric, bucket or categorical, and for a categorical `vocabulary`, `oov_buckets`,
    `missing`); the numbers are measured here, from the Transform graph.
    """
    probe = _Probe({entry["source"] for entry in inputs}, output)
    by_kind = {kind: {e["source"]: e["name"] for e in inputs if e["kind"] == kind}
               for kind in ("numeric", "bucket")}
    constants = _z_constants(probe, by_kind["numeric"])
    boundaries = _boundaries(probe, by_kind["bucket"])
    described = []
    for entry in inputs:
        source = entry["source"]
        item: dict[str, Any] = {"name": entry["name"], "source": source,
                                "raw_type": probe.spec[source].dtype.name,
                                "dtype": "float32" if entry["kind"] == "numeric" else "int64",
                                "kind": entry["kind"]}
        if entry["kind"] == "categorical":
            path = output.vocabulary_file_by_name(entry["vocabulary"])
            with tf.io.gfile.GFile(path, "rb") as handle:
                vocabulary = [line.rstrip(b"\n").decode("utf-8") for line in handle]
            item.update(vocabulary=vocabulary, oov_buckets=int(entry["oov_buckets"]),
                        missing=entry["missing"])
        elif entry["kind"] == "bucket":
            item.update(fill=(constants.get(source) or {}).get("fill"),
                        boundaries=boundaries[source])
        else:
            item.update(constants[source])
        described.append(item)
    return {
        "format": FORMAT,
        "note": "The .tflite model takes transformed features, not raw rows: the tf.Transform "
                "graph cannot go into a TFLite model (its vocabulary lookups are hash tables the "
                "TFLite runtime cannot initialise). Compute each input from a raw row with the "
                "rules below; components/model_optimizer/device_client.py implements them.",
        "rules": RULES,
        "inputs": described,
        "outputs": outputs,
    }
