"""VariantEvaluator executor on small real artifacts: the tiny pipeline's dense model and its
int8 TFLite model from the real ModelOptimizer, judged on the raw eval split per slice."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.fixtures.tiny import SLICES, raw_example, run_variant_evaluator


def _read(uri: str) -> dict:
    with open(os.path.join(uri, "variants.json")) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def judged(tiny_optimized, tmp_path_factory):
    uri = run_variant_evaluator(tiny_optimized, str(tmp_path_factory.mktemp("judged")),
                                tolerance=0.05)
    return _read(uri)


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC by its definition: P(score of a positive > score of a negative), ties count 1/2."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def _slices_of(row: dict) -> list[dict]:
    keys = [{}]
    for spec in SLICES:
        if all(row[c] for c in spec):
            keys.append({c: (row[c][0].decode() if isinstance(row[c][0], bytes) else row[c][0])
                         for c in sorted(spec)})
    return keys


def test_every_slice_of_the_eval_split_is_compared_with_the_dense_model(tiny_optimized, judged):
    tiny = tiny_optimized.pipeline
    [variant] = judged["variants"]
    assert variant["name"] == "tflite_int8" and variant["evaluation"]["by"] == "tflite_interpreter"
    assert variant["evaluation"]["examples"] == len(tiny.eval_rows)
    rows = {json.dumps(d["slice"], sort_keys=True): d for d in variant["deltas"]}

    # Example counts per slice, counted here from the raw eval rows (missing company: no slice).
    expected: dict[str, list[int]] = {}
    for i, row in enumerate(tiny.eval_rows):
        for key in _slices_of(row):
            expected.setdefault(json.dumps(key, sort_keys=True), []).append(i)
    assert set(rows) == set(expected)
    assert {k: r["example_count"] for k, r in rows.items()} == {
        k: len(v) for k, v in expected.items()}

    # The dense values are the dense serving model's AUC on raw examples, computed by definition.
    dense = tf.saved_model.load(os.path.join(tiny.model, "Format-Serving"))
    scores = dense.signatures["serving_default"](examples=tf.constant(
        [raw_example(r, drop=("tips",)) for r in tiny.eval_rows]))["outputs"].numpy().ravel()
    labels = np.array([r["tips"][0] > 0.2 * r["fare"] for r in tiny.eval_rows], dtype=np.int64)
    for key, members in expected.items():
        row = rows[key]
        if 0 < labels[members].sum() < len(members):
            assert row["dense"] == pytest.approx(_pairwise_auc(labels[members], scores[members]),
                                                 abs=1e-6), key
            assert row["delta"] == pytest.approx(row["variant"] - row["dense"], abs=1e-12)
        else:
            assert row["judged"] is False and row["delta"] is None


def test_small_slices_are_reported_not_judged(judged):
    [variant] = judged["variants"]
    small = [d for d in variant["deltas"] if d["example_count"] < 20]
    assert small, "the tiny eval split has crossed slices under 20 examples"
    assert all(not d["judged"] and d["passed"] for d in small)
    assert all("fewer than 20 examples" in d["note"] for d in small)
    assert any(d["variant"] is not None for d in small)  # computed and shown, just not judged
    judged_rows = [d for d in variant["deltas"] if d["judged"]]
    assert {json.dumps(d["slice"]) for d in judged_rows} >= {"{}", '{"hour": 0}', '{"hour": 1}'}
    assert variant["small_slices"] == len({json.dumps(d["slice"]) for d in small})
    assert f"{variant['small_slices']} slices under 20 examples reported" in variant["reason"]


def test_within_tolerance_the_variant_is_blessed_with_its_latency(judged):
    [variant] = judged["variants"]
    worst = min(d["delta"] for d in variant["deltas"] if d["judged"])
    assert worst >= -0.05 and variant["blessed"] is True
    assert variant["reason"].startswith("within tolerance (auc loss <= 0.05)")
    for entry in (variant["latency_ms"], judged["dense"]["latency_ms"],
                  judged["dense"]["latency_ms_model_only"]):
        assert entry["calls"] == 20 and 0 < entry["p50"] <= entry["p90"] <= entry["p99"]
    assert variant["source"].endswith("tflite_int8")


def test_an_impossibly_tight_tolerance_is_not_blessed(tiny_optimized, tmp_path):
    # -1: the variant would have to beat the dense model by a whole AUC unit on every judged
    # slice. (0 is not impossible: int8 scores so close to the dense model that it can tie or
    # win on every slice.)
    result = _read(run_variant_evaluator(tiny_optimized, str(tmp_path), tolerance=-1.0))
    [variant] = result["variants"]
    judged = [d for d in variant["deltas"] if d["judged"]]
    assert variant["blessed"] is False and len(judged) >= 6
    assert [d for d in variant["deltas"] if not d["passed"]] == judged
    worst = min(judged, key=lambda d: d["delta"])
    assert variant["reason"].startswith(
        f"auc {worst['delta']:+.4f} on ")
    assert f"exceeds the tolerance -1 (and {len(judged) - 1} more failures)" in variant["reason"]
