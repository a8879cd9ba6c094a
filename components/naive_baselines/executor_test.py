"""The naive baselines' executors (BaselineScores, then the NaiveBaselines gate) on small real
artifacts: the tiny pipeline's raw examples and trained model (for its `transform_features`
signature); the model's evaluation is a real TFMA evaluation of known scores on the same eval
rows. The baselines' figures are checked against pandas and scikit-learn on those rows; a model
no better than its baselines is not blessed."""

from __future__ import annotations

import json
import os

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow_model_analysis as tfma
from google.protobuf import json_format, wrappers_pb2
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tfx.types import standard_artifacts

from components.naive_baselines import BaselineSettings, ScoreSettings
from components.naive_baselines.executor import Executor
from components.naive_baselines.fit import Baseline, fit_baselines
from components.naive_baselines.rows import SplitRows
from components.naive_baselines.scores_executor import Executor as ScoresExecutor
from components.naive_baselines.scores_executor import record_batch
from components.shared.artifacts import NaiveBaselineMetrics, NaiveBaselineScores
from components.shared.params import encode
from tests.fixtures.tiny import artifact

SLICES = [["company"], ["hour"]]


def _eval_config(kind: str, names: tuple[str, ...], classes: list[str], label: str = "label_xf"
                 ) -> tfma.EvalConfig:
    metrics = {"binary": ["ExampleCount", "AUC", "BinaryAccuracy", "MeanLabel"],
               "multiclass": ["ExampleCount", "SparseCategoricalAccuracy",
                              "SparseCategoricalCrossentropy"],
               "regression": ["ExampleCount", "MeanSquaredError", "MeanAbsoluteError"]}[kind]
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name=n, label_key=label, prediction_key=n) for n in names],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=s) for s in SLICES],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=m)
                                                 for m in metrics])],
        options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)))


def _raw(rows: list[dict]) -> pd.DataFrame:
    """Raw rows -> the label (tips over 20% of the fare) and the slice columns."""
    return pd.DataFrame({
        "label": [int(r["tips"][0] / r["fare"] > 0.2) for r in rows],
        "company": [r["company"][0].decode() if r["company"] else None for r in rows],
        "hour": [r["hour"][0] for r in rows]})


def _model_evaluation(uri: str, labels: np.ndarray, scores: np.ndarray) -> None:
    """A real TFMA evaluation of `scores` as the model's predictions (overall AUC)."""
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label_xf", prediction_key="model")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="AUC")])])
    rows = SplitRows({}, labels.astype(np.int64))
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create([record_batch("label_xf", rows, {"model": scores})])
             | tfma.ExtractEvaluateAndWriteResults(eval_config=config, output_path=uri))


def _run(tiny, root: str, scores_of, min_lift: float = 0.0, gated: tuple[str, ...] = (),
         sliced_metrics: tuple[str, ...] = ()) -> tuple[dict, str]:
    """The executor with a model whose eval scores are `scores_of(eval labels)`, blessed by
    its Evaluator, judged against the baselines in `gated` (all when empty); (baselines.json,
    the blessing)."""
    labels = _raw(tiny.eval_rows)["label"].to_numpy()
    evaluation = artifact(standard_artifacts.ModelEvaluation, os.path.join(root, "evaluation"))
    _model_evaluation(evaluation.uri, labels, scores_of(labels))
    evaluator_blessing = artifact(standard_artifacts.ModelBlessing, os.path.join(root, "eb"))
    evaluator_blessing.set_int_custom_property("blessed", 1)
    evaluator_blessing.set_int_custom_property("current_model_id", 7)

    scores = {"scores": [artifact(NaiveBaselineScores, os.path.join(root, "scores"))]}
    examples = artifact(standard_artifacts.Examples, tiny.examples)
    examples.split_names = '["train", "eval"]'
    ScoresExecutor().Do({"examples": [examples],
                         "model": [artifact(standard_artifacts.Model, tiny.model)]}, scores,
                        {"settings": encode(ScoreSettings(
                            kind="binary", eval_config=json_format.MessageToJson(
                                _eval_config("binary", ("prior", "logistic"), [])),
                            sliced_metrics=sliced_metrics))})
    outputs = {"baselines": [artifact(NaiveBaselineMetrics, os.path.join(root, "baselines"))],
               "blessing": [artifact(standard_artifacts.ModelBlessing,
                                     os.path.join(root, "blessing"))]}
    settings = BaselineSettings(metric="auc", higher_is_better=True, min_lift=min_lift,
                                gated=gated)
    Executor().Do({**scores, "model_evaluation": [evaluation],
                   "model_blessing": [evaluator_blessing]},
                  outputs, {"settings": encode(settings)})
    with open(os.path.join(root, "baselines", "baselines.json")) as handle:
        return json.load(handle), outputs["blessing"][0]


@pytest.fixture(scope="module")
def perfect(tiny_pipeline, tmp_path_factory):
    """A model that scores each eval row by its label (AUC 1)."""
    return _run(tiny_pipeline, str(tmp_path_factory.mktemp("perfect")),
                lambda labels: labels.astype(np.float32))


def _slice(record: dict, key: dict) -> dict:
    return next(s["metrics"] for s in record["slices"] if s["slice"] == key)


def test_prior_baseline_matches_pandas_overall_and_per_slice(tiny_pipeline, perfect):
    record, _ = perfect
    train, evaluated = _raw(tiny_pipeline.rows), _raw(tiny_pipeline.eval_rows)
    share = train["label"].mean()
    decision = int(share >= 0.5)
    assert record["rows"] == {"train": len(train), "eval": len(evaluated)}
    overall = _slice(record, {})["prior"]
    assert overall["auc"] == pytest.approx(0.5)
    assert overall["example_count"] == len(evaluated)
    assert overall["binary_accuracy"] == pytest.approx((evaluated["label"] == decision).mean())
    for company, group in evaluated.dropna().groupby("company"):
        prior = _slice(record, {"company": company})["prior"]
        assert prior["example_count"] == len(group)
        assert prior["binary_accuracy"] == pytest.approx((group["label"] == decision).mean())
        assert prior["mean_label"] == pytest.approx(group["label"].mean())
    assert "training share of class 1, " + f"{share:.4f}" in record["baselines"]["prior"]


def test_logistic_baseline_matches_scikit_learn(tiny_pipeline, perfect):
    """The same logistic regression, fitted with scikit-learn on the transformed rows Transform
    wrote, scored on the eval rows: its AUC is TFMA's (up to TFMA's 1,000-threshold curve)."""
    import tensorflow as tf

    def transformed(split: str) -> pd.DataFrame:
        path = os.path.join(tiny_pipeline.transformed_examples, f"Split-{split}", "data.gz")
        rows = []
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            rows.append({k: (v.float_list.value or v.int64_list.value)[0]
                         for k, v in example.features.feature.items()})
        return pd.DataFrame(rows)

    train, evaluated = transformed("train"), transformed("eval")
    floats = sorted(c for c in train if c != "label_xf" and train[c].dtype.kind == "f")
    ids = sorted(c for c in train if c != "label_xf" and train[c].dtype.kind != "f")
    model = make_pipeline(ColumnTransformer([("f", StandardScaler(), floats),
                                             ("i", OneHotEncoder(handle_unknown="ignore"), ids)]),
                          LogisticRegression(max_iter=1000))
    model.fit(train[floats + ids], train["label_xf"])
    expected = roc_auc_score(evaluated["label_xf"],
                             model.predict_proba(evaluated[floats + ids])[:, 1])
    record, _ = perfect
    assert _slice(record, {})["logistic"]["auc"] == pytest.approx(expected, abs=0.005)
    assert expected > 0.6  # the label depends on the hour: the rule learned something


def test_a_model_above_its_baselines_keeps_its_blessing(perfect):
    record, blessing = perfect
    best = max(_slice(record, {})[n]["auc"] for n in ("prior", "logistic"))
    assert record["model_value"] == pytest.approx(1.0)
    assert record["best_value"] == pytest.approx(best)
    assert record["lift"] == pytest.approx(1.0 - best)
    assert record["passed"] is True and record["evaluator_blessed"] is True
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_int_custom_property("current_model_id") == 7
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))


def test_the_gated_metric_per_slice_and_every_metric_overall_are_those_of_one_pass(
        tiny_pipeline, perfect, tmp_path):
    """Two TFMA passes (every metric overall; AUC and the count on every slice) give the
    figures one pass with every metric on every slice gives, and no other per slice."""
    split, _ = _run(tiny_pipeline, str(tmp_path), lambda labels: labels.astype(np.float32),
                    sliced_metrics=("AUC", "ExampleCount"))
    whole, _ = perfect
    assert sorted(map(str, (s["slice"] for s in split["slices"]))) == sorted(
        map(str, (s["slice"] for s in whole["slices"])))
    assert _slice(split, {}) == _slice(whole, {})
    assert "binary_accuracy" in _slice(split, {})["prior"]
    for row in whole["slices"]:
        if not row["slice"]:
            continue
        for name, metrics in _slice(split, row["slice"]).items():
            assert set(metrics) == {"auc", "example_count"}
            assert metrics == {k: row["metrics"][name][k] for k in metrics}
    assert split["lift"] == whole["lift"] and split["passed"] is True


def test_a_model_no_better_than_a_constant_score_is_not_blessed(tiny_pipeline, tmp_path):
    record, blessing = _run(tiny_pipeline, str(tmp_path),
                            lambda labels: np.full(len(labels), 0.3, np.float32))
    assert record["model_value"] == pytest.approx(0.5)
    assert record["best_baseline"] == "logistic" and record["lift"] < 0
    assert record["passed"] is False and record["evaluator_blessed"] is True
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))


def test_the_gate_judges_the_baselines_it_is_given_the_constant_ones_by_default(
        tiny_pipeline, tmp_path):
    """A model a little better than a constant score and worse than the logistic regression:
    blessed against the prior alone (evaluation.lift_over's default, the constant baselines),
    refused when the logistic regression is named too."""
    def weak(labels: np.ndarray) -> np.ndarray:  # a tenth of the positives first, all else tied
        scores = np.full(len(labels), 0.5, np.float32)
        positives = np.flatnonzero(labels == 1)
        scores[positives[:max(1, len(positives) // 10)]] = 1.0
        return scores

    constant, blessed = _run(tiny_pipeline, str(tmp_path / "prior"), weak, gated=("prior",))
    assert 0.5 < constant["model_value"] < _slice(constant, {})["logistic"]["auc"]
    assert constant["gated"] == ["prior"] and constant["best_baseline"] == "prior"
    assert constant["passed"] is True and blessed.get_int_custom_property("blessed") == 1
    both, refused = _run(tiny_pipeline, str(tmp_path / "both"), weak,
                         gated=("prior", "logistic"))
    assert both["gated"] == ["logistic", "prior"] and both["best_baseline"] == "logistic"
    assert both["passed"] is False and refused.get_int_custom_property("blessed") == 0


def _evaluate(kind: str, baselines: list[Baseline], rows: SplitRows, tmp_path) -> list[dict]:
    config = _eval_config(kind, tuple(b.name for b in baselines), [])
    return ScoresExecutor()._evaluate(config, baselines, rows, str(tmp_path / "tfma"))


def _slices(frame: pd.DataFrame):
    import pyarrow as pa

    return {"company": pa.array([[c.encode()] for c in frame["company"]], pa.list_(pa.binary())),
            "hour": pa.array([[h] for h in frame["hour"]], pa.list_(pa.int64()))}


def test_regression_baselines_are_the_training_mean_and_median(tmp_path):
    rng = np.random.default_rng(5)
    train = rng.lognormal(1.0, 0.8, 200).astype(np.float32)
    frame = pd.DataFrame({"y": rng.lognormal(1.0, 0.8, 60).astype(np.float32),
                          "company": rng.choice(["a", "b"], 60), "hour": rng.integers(0, 2, 60)})
    baselines = fit_baselines("regression", {}, train, [])
    rows = SplitRows({}, frame["y"].to_numpy(), _slices(frame))
    slices = _evaluate("regression", baselines, rows, tmp_path)
    for key, group in [({}, frame), *(({"company": c}, g) for c, g in frame.groupby("company"))]:
        metrics = _slice({"slices": slices}, key)
        for name, value in (("mean", train.mean()), ("median", np.median(train))):
            assert metrics[name]["mean_squared_error"] == pytest.approx(
                ((group["y"] - value) ** 2).mean(), rel=1e-4)
            assert metrics[name]["mean_absolute_error"] == pytest.approx(
                (group["y"] - value).abs().mean(), rel=1e-4)


def test_multiclass_prior_and_logistic_on_categorical_features_only(tmp_path):
    rng = np.random.default_rng(9)
    ids = rng.integers(0, 3, 300)
    label = np.where(rng.random(300) < 0.7, ids, rng.integers(0, 3, 300))
    features = {"colour_xf": ids.reshape(-1, 1)}
    baselines = fit_baselines("multiclass", {k: v[:240] for k, v in features.items()},
                              label[:240], ["r", "g", "b"])
    frame = pd.DataFrame({"company": rng.choice(["a", "b"], 60), "hour": ids[240:]})
    rows = SplitRows({k: v[240:] for k, v in features.items()}, label[240:], _slices(frame))
    overall = _slice({"slices": _evaluate("multiclass", baselines, rows, tmp_path)}, {})
    shares = np.bincount(label[:240], minlength=3) / 240
    assert overall["prior"]["sparse_categorical_accuracy"] == pytest.approx(
        (label[240:] == shares.argmax()).mean())
    assert overall["prior"]["sparse_categorical_crossentropy"] == pytest.approx(
        log_loss(label[240:], np.tile(shares, (60, 1)), labels=[0, 1, 2]), rel=1e-4)
    assert overall["logistic"]["sparse_categorical_accuracy"] == pytest.approx(
        (label[240:] == ids[240:]).mean())  # one category decides: the rule finds it


def test_the_gate_without_the_baselines_scores_fails_with_what_to_do(tmp_path):
    """Scores missing from their artifact (a run killed while writing them): one clear line."""
    scores = artifact(NaiveBaselineScores, str(tmp_path / "scores"))
    outputs = {"baselines": [artifact(NaiveBaselineMetrics, str(tmp_path / "baselines"))],
               "blessing": [artifact(standard_artifacts.ModelBlessing,
                                     str(tmp_path / "blessing"))]}
    with pytest.raises(RuntimeError, match="scores are missing .* run the pipeline again"):
        Executor().Do({"scores": [scores], "model_evaluation": [], "model_blessing": []},
                      outputs, {"settings": encode(BaselineSettings(metric="auc"))})
    assert not os.path.exists(os.path.join(str(tmp_path / "blessing"), "BLESSED"))
