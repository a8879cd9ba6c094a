"""preprocessing_fn through real tf.Transform (Beam, TF2) on tiny in-memory datasets.

Each expected value is computed by hand from the rows below, so a wrong statistic, a shifted
vocabulary id or a label that leaks into the features fails a test.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tensorflow as tf

from components.shared.model_contract import LABEL_KEY
from pipeline.modules.features import (
    MISSING_CATEGORY,
    TransformedFeature,
    cardinalities,
    transformed_features,
)
from pipeline.modules.transform import (
    binary_label,
    numeric_column,
    string_column,
)
from tests.fixtures.transform import SPEC, run_transform

FARE = [10.0, 20.0, 5.0, 0.0, 8.0, 12.0, 30.0, 15.0]
MILES = [[1.0], [], [3.0], [5.0], [], [7.0], [2.0], [6.0]]
COMPANY = [[b"a"], [b"a"], [], [b"a"], [b"a"], [], [b"b"], [b"c"]]
HOUR = [7, 7, 7, 7, 2, 2, 2, 3]
TIPS = [[3.0], [2.0], [], [1.0], [2.0], [0.0], [9.0], [3.0]]
# tips > 0.2 * fare; missing tips -> 0; fare 0 -> 0; 3 > 0.2 * 15 is not strictly above.
EXPECTED_LABEL = [1, 0, 0, 0, 1, 0, 1, 0]

CONFIG = {
    "label": {"column": "tips", "kind": "binary", "positive_values": None,
              "derive": {"type": "ratio_above", "denominator": "fare", "threshold": 0.2}},
    "features": {"numeric": ["fare", "miles"], "categorical": ["company", "hour"],
                 "bucketize": {"miles": 3}},
    "transform": {"impute": "mean", "vocab_size": 100, "oov_buckets": 2},
    "model": {},
    "code_fingerprint": "test",
}


def _rows(**columns: list) -> list[dict]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([row[key][0] for row in rows])


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    rows = _rows(fare=FARE, miles=MILES, company=COMPANY, hour=[[h] for h in HOUR], tips=TIPS)
    # Unseen company and hour, missing miles, no tips: as a serving-time row would look.
    unseen = [{"fare": 10.0, "miles": [], "company": [b"zzz"], "hour": [99], "tips": []}]
    return run_transform(CONFIG, SPEC, rows, str(tmp_path_factory.mktemp("binary")), unseen)


def test_outputs_are_the_transformed_features_and_the_label_only(binary_run):
    train, _, output = binary_run
    expected = {f.name for f in transformed_features(CONFIG)} | {LABEL_KEY}
    assert set(train[0]) == expected
    assert set(output.transformed_feature_spec()) == expected
    assert not any(key.startswith("tips") for key in train[0])


def test_numeric_is_z_scored_with_statistics_of_present_values(binary_run):
    train, _, _ = binary_run
    fare = np.array(FARE)
    np.testing.assert_allclose(_column(train, "fare_xf"), (fare - fare.mean()) / fare.std(),
                               rtol=1e-5)
    present = np.array([m[0] for m in MILES if m])
    assert present.mean() == 4.0
    miles = _column(train, "miles_xf")
    for value, got in zip(MILES, miles, strict=True):
        want = (value[0] - 4.0) / present.std() if value else 0.0  # mean-imputed -> z = 0
        assert got == pytest.approx(want, abs=1e-5)


def test_bucket_ids_in_range_and_ordered_by_imputed_value(binary_run):
    train, evaluated, _ = binary_run
    buckets = _column(train, "miles_bucket_xf")
    assert buckets.dtype == np.int64
    assert set(buckets) <= {0, 1, 2} and len(set(buckets)) > 1
    imputed = [m[0] if m else 4.0 for m in MILES]
    order = np.argsort(imputed, kind="stable")
    assert np.all(np.diff(buckets[order]) >= 0)
    assert 0 <= evaluated[0]["miles_bucket_xf"][0] < 3


def test_vocabulary_most_frequent_first_with_missing_as_a_category(binary_run):
    train, _, output = binary_run
    vocabulary = output.vocabulary_by_name("company")
    assert vocabulary[:2] == [b"a", MISSING_CATEGORY.encode()]
    assert sorted(vocabulary[2:]) == [b"b", b"c"]
    company = _column(train, "company_xf")
    assert company.dtype == np.int64
    np.testing.assert_array_equal(company[[0, 1, 3, 4]], 0)
    np.testing.assert_array_equal(company[[2, 5]], 1)  # the two missing ones
    assert vocabulary[company[6]] == b"b" and vocabulary[company[7]] == b"c"
    # Integers are categories too: 7 (4 rows) before 2 (3 rows) before 3 (1 row).
    assert output.vocabulary_by_name("hour") == [b"7", b"2", b"3"]
    np.testing.assert_array_equal(_column(train, "hour_xf"), [0, 0, 0, 0, 1, 1, 1, 2])


def test_unseen_values_map_into_the_oov_range(binary_run):
    _, evaluated, output = binary_run
    [row] = evaluated
    for name, size in [("company", 4), ("hour", 3)]:
        assert output.vocabulary_size_by_name(name) == size
        assert size <= row[f"{name}_xf"][0] < size + CONFIG["transform"]["oov_buckets"]
    assert row["miles_xf"][0] == pytest.approx(0.0, abs=1e-6)


def test_cardinalities_come_from_the_vocabularies_plus_oov(binary_run):
    _, _, output = binary_run
    assert cardinalities(CONFIG, output.vocabulary_size_by_name) == {
        "miles_bucket_xf": 3, "company_xf": 4 + 2, "hour_xf": 3 + 2}


def test_derived_binary_label(binary_run):
    train, evaluated, _ = binary_run
    labels = _column(train, LABEL_KEY)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, EXPECTED_LABEL)
    assert evaluated[0][LABEL_KEY][0] == 0  # no tips


def test_serving_without_the_label_column_gives_the_same_features(binary_run):
    """TFT prunes `label_xf` when `tips` is absent; the features must not change."""
    train, _, output = binary_run
    layer = output.transform_features_layer()
    raw = {
        "fare": tf.constant([FARE[0]]),
        "miles": tf.sparse.from_dense(tf.constant([MILES[0]])),
        "company": tf.sparse.from_dense(tf.constant([COMPANY[0]])),
        "hour": tf.constant([[HOUR[0]]], tf.int64),
    }
    served = layer(raw)
    assert LABEL_KEY not in served
    assert set(served) == set(train[0]) - {LABEL_KEY}
    for key, value in served.items():
        np.testing.assert_allclose(value.numpy()[0], train[0][key], rtol=1e-6, err_msg=key)


def test_median_imputation_and_multiclass_label(tmp_path):
    spec = {"x": tf.io.VarLenFeature(tf.float32), "grade": tf.io.FixedLenFeature([], tf.string)}
    x = [[1.0], [], [2.0], [100.0], [3.0], [], [50.0]]
    grade = [b"lo", b"hi", b"lo", b"mid", b"lo", b"hi", b"lo"]
    config = copy.deepcopy(CONFIG)
    config["label"] = {"column": "grade", "kind": "multiclass", "derive": None,
                       "positive_values": None}
    config["features"] = {"numeric": ["x"], "categorical": [], "bucketize": {}}
    config["transform"]["impute"] = "median"
    train, _, output = run_transform(config, spec, _rows(x=x, grade=grade), str(tmp_path))
    present = np.array([v[0] for v in x if v])
    expected_missing = (3.0 - present.mean()) / present.std()  # median of 1, 2, 3, 50, 100
    got = _column(train, "x_xf")
    for value, z in zip(x, got, strict=True):
        want = (value[0] - present.mean()) / present.std() if value else expected_missing
        assert z == pytest.approx(want, abs=1e-5)
    assert output.vocabulary_by_name("label") == [b"lo", b"hi", b"mid"]
    np.testing.assert_array_equal(_column(train, LABEL_KEY), [0, 1, 0, 2, 0, 1, 0])


def test_regression_label_is_float_and_mean_imputed(tmp_path):
    spec = {"x": tf.io.FixedLenFeature([], tf.float32), "y": tf.io.VarLenFeature(tf.float32)}
    y = [[1.5], [], [2.5], [-1.0], [4.0]]
    config = copy.deepcopy(CONFIG)
    config["label"] = {"column": "y", "kind": "regression", "derive": None,
                       "positive_values": None}
    config["features"] = {"numeric": ["x"], "categorical": [], "bucketize": {}}
    rows = _rows(x=[0.0, 1.0, 2.0, 3.0, 4.0], y=y)
    train, _, _ = run_transform(config, spec, rows, str(tmp_path))
    labels = _column(train, LABEL_KEY)
    assert labels.dtype == np.float32
    np.testing.assert_allclose(labels, [1.5, 7.0 / 4, 2.5, -1.0, 4.0], rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Pieces that need no analyzer, run eagerly


def test_every_input_form_becomes_a_dense_column():
    sparse = tf.SparseTensor(indices=[[0, 0], [2, 0]], values=[1.5, 2.0], dense_shape=[3, 1])
    value, present = numeric_column(sparse)
    assert value.shape == (3, 1)
    np.testing.assert_array_equal(present.numpy().ravel(), [True, False, True])
    np.testing.assert_array_equal(value.numpy()[[0, 2]].ravel(), [1.5, 2.0])
    all_missing = tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0]), dense_shape=[2, 0])
    assert not numeric_column(all_missing)[1].numpy().any()
    assert numeric_column(tf.constant([1.0, float("nan")]))[1].numpy().ravel().tolist() == [
        True, False]
    assert string_column(tf.constant([[3], [4]], tf.int64)).numpy().ravel().tolist() == [
        b"3", b"4"]
    strings = tf.SparseTensor([[1, 0]], tf.constant([b""]), dense_shape=[3, 1])
    assert string_column(strings).numpy().ravel().tolist() == [MISSING_CATEGORY.encode()] * 3
    assert string_column(tf.constant([2.0, 2.5])).numpy().ravel().tolist() == [b"2", b"2.5"]


def test_binary_label_from_positive_values_or_numbers():
    answers = tf.SparseTensor([[0, 0], [1, 0], [3, 0]], tf.constant([b"yes", b"no", b"1"]),
                              dense_shape=[4, 1])
    config = {"column": "y", "kind": "binary", "derive": None, "positive_values": ["yes", "1"]}
    assert binary_label({"y": answers}, config).numpy().ravel().tolist() == [1, 0, 0, 1]
    numbers = tf.SparseTensor([[0, 0], [1, 0]], tf.constant([1.0, 0.0]), dense_shape=[3, 1])
    config["positive_values"] = None
    label = binary_label({"y": numbers}, config)
    assert label.dtype == tf.int64 and label.numpy().ravel().tolist() == [1, 0, 0]
    # A float column holds "1.0" as 1: positive_values written as in the CSV still match it.
    config["positive_values"] = ["1.0"]
    assert binary_label({"y": numbers}, config).numpy().ravel().tolist() == [1, 0, 0]
    spaced = tf.constant([[b" setosa "], [b"setosa"], [b"  "]])
    assert string_column(spaced).numpy().ravel().tolist() == [
        b"setosa", b"setosa", MISSING_CATEGORY.encode()]


CELLS = ["yes", "No", " TRUE ", "f", "Y", "n", "t", "False", "1", "0", "0.0", "-2", "3e-1",
         "+.5", "1E3", "7.", "-0.0"]


@pytest.mark.parametrize("positive_values", [None, ["Yes", "1", "TRUE"]])
def test_a_binary_label_reads_each_cell_as_the_pre_flight_does(positive_values):
    """The graph (`binary_label`) and the pre-flight (`labels.binary_class`, on stripped cells)
    give every cell the same class: text they disagreed on would pass the pre-flight and crash
    Transform, or train on labels the pre-flight did not count."""
    from pipeline.modules.labels import binary_class

    config = {"column": "y", "kind": "binary", "derive": None, "positive_values": positive_values}
    graph = binary_label({"y": tf.constant([[c] for c in CELLS])}, config)
    assert graph.numpy().ravel().tolist() == [binary_class(c.strip(), positive_values)
                                              for c in CELLS]
    if positive_values is None:
        assert graph.numpy().ravel().tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1,
                                                  1, 0]
    assert binary_class("maybe", None) is None


def test_feature_list_excludes_the_label_and_orders_floats_buckets_ids():
    config = copy.deepcopy(CONFIG)
    config["features"]["numeric"].append("tips")  # listing the label as a feature is ignored
    assert transformed_features(config) == [
        TransformedFeature("fare_xf", "fare", "float"),
        TransformedFeature("miles_xf", "miles", "float"),
        TransformedFeature("miles_bucket_xf", "miles", "id", buckets=3),
        TransformedFeature("company_xf", "company", "id", vocabulary="company"),
        TransformedFeature("hour_xf", "hour", "id", vocabulary="hour"),
    ]



@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_a_feature_named_label_is_an_input_of_its_own(kind):
    """Its input was the label's (label_xf), its vocabulary a multiclass label's: the Trainer
    failed after Transform had run."""
    config = copy.deepcopy(CONFIG)
    config["label"] = {**config["label"], "kind": kind}
    config["features"] = {"numeric": ["label"], "categorical": ["Label", "label "]}
    features = transformed_features(config)
    assert [(f.name, f.vocabulary) for f in features] == [
        ("f_label_xf", None), ("Label_xf", "Label"), ("label__xf", "label_")]
    assert LABEL_KEY not in [f.name for f in features]
