"""The lift gate's margin for chance, against simulated models of noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from components.naive_baselines.verdict import Chance, chance_error, lift_verdict


def test_the_auc_standard_error_is_that_of_models_of_noise():
    rng = np.random.default_rng(0)
    labels = rng.random(200) < 0.3
    aucs = [roc_auc_score(labels, rng.random(200)) for _ in range(2000)]
    counts = {"example_count": 200, "mean_label": float(labels.mean())}
    assert chance_error("auc", 0.5, counts) == pytest.approx(np.std(aucs), rel=0.08)


def test_the_accuracy_standard_error_is_a_proportions():
    rng = np.random.default_rng(1)
    accuracies = [np.mean(rng.random(150) < 0.4) for _ in range(4000)]
    error = chance_error("sparse_categorical_accuracy", 0.4, {"example_count": 150})
    assert error == pytest.approx(np.std(accuracies), rel=0.05)
    assert chance_error("mean_squared_error", 10.0, {"example_count": 150}) is None
    assert chance_error("auc", 0.5, {"example_count": 9, "mean_label": 1.0}) is None


def test_a_model_of_noise_just_above_the_prior_is_refused_and_a_real_one_passes():
    """525 eval rows, half positive: AUC 0.5115 is 0.45 standard errors above a constant
    score's 0.5 (it was blessed with min_lift 0 alone)."""
    chance = Chance(2.0, "auc", {"example_count": 525, "mean_label": 0.5})
    noise = lift_verdict(0.5115, {"prior": 0.5}, True, 0.0, chance)
    assert noise["chance_error"] == pytest.approx(0.0252, abs=5e-4)
    assert noise["required"] == pytest.approx(2 * noise["chance_error"])
    assert noise["passed"] is False
    assert lift_verdict(0.60, {"prior": 0.5}, True, 0.0, chance)["passed"] is True
    # min_lift still rules when it is the larger; no margin: min_lift alone, as before
    assert lift_verdict(0.60, {"prior": 0.5}, True, 0.2, chance)["required"] == 0.2
    assert lift_verdict(0.5115, {"prior": 0.5}, True, 0.0)["passed"] is True
