"""Config loading: every mistake a user can make gets one precise line."""


import pytest

from pipeline.config import ConfigError, load_config
from pipeline.dag.user_code import custom_config
from tests.fixtures.configs import MINIMAL, TAXI, error_of


def test_default_taxi_config_loads_with_paths_under_the_project():
    config = load_config(TAXI)
    root = TAXI.parents[2]
    assert config.output_root == root / "outputs"
    assert config.data_dir == root / "data" / "materialized" / "taxi"
    assert config.schema.path == str(root / "schemas" / "taxi" / "schema.pbtxt")
    assert config.label.derive.threshold == 0.2
    assert "tips" not in config.all_features
    assert custom_config(config, "f")["code_fingerprint"] == "f"


def test_minimal_config_gets_defaults_and_paths_relative_to_the_project(toy):
    config = load_config(toy())
    assert config.model.type == "wide_deep"
    assert config.pipeline.model_name == "toy"
    assert config.output_root == toy().parent / "outputs"
    assert config.beam.direct_running_mode == "in_memory"


def test_output_root_override(toy, tmp_path):
    config = load_config(toy(), output_root=str(tmp_path / "elsewhere"))
    assert config.metadata_path == tmp_path / "elsewhere" / "toy" / "metadata.sqlite"


@pytest.mark.parametrize("extra, expected", [
    ("[model]\nhiden_units = [8]\n",
     "unknown key 'model.hiden_units' (did you mean 'hidden_units'?)"),
    ("[modle]\n", "unknown key 'modle' (did you mean 'model'?)"),
    ("[model]\ndropout = 'high'\n", "'model.dropout' must be a number, got str 'high'"),
    ("[model]\nhidden_units = [8, 'x']\n", "'model.hidden_units[1]' must be an integer"),
    ("[model]\ntrain_steps = 1.5\n", "'model.train_steps' must be an integer"),
    ("[model]\ntype = 'cnn'\n", "'model.type' must be one of dnn, wide_deep, got 'cnn'"),
    ("[beam]\ndirect_running_mode = 'fast'\n", "'beam.direct_running_mode' must be one of"),
    ("[beam]\nrunner = 'PortableRunner'\n", "'beam.job_endpoint' is required"),
    ("[beam]\nrunner = 'FlinkRunner'\n", "'beam.job_endpoint' is required with runner = "
     "'FlinkRunner'"),
    ("[beam]\nrunner = 'SparkRunner'\n", "'beam.job_endpoint' is required with runner = "
     "'SparkRunner': the job server's address, e.g. 'localhost:8097' as 'make spark' starts it"),
    ("[beam]\nparallelism = -1\n", "'beam.parallelism' must be >= 0"),
    ("[evaluation.thresholds.mse]\nupper_bound = 1.0\n",
     "metric 'mse' is not available for a binary label"),
    ("[evaluation.thresholds.auc]\n", "'evaluation.thresholds.auc' sets no bound"),
    ("[evaluation.thresholds.auc]\nmax_change = -0.1\n", "must be >= 0"),
    ("[schema]\npath = 'nowhere.pbtxt'\n", "schema file not found"),
    ("[evaluation]\nmin_lift = -0.1\n", "'evaluation.min_lift' must be a number >= 0"),
    ("[evaluation]\nmin_lift = 'high'\n", "'evaluation.min_lift' must be a number"),
    ("[evaluation]\nlift_over = ['mean']\n", "'evaluation.lift_over' names 'mean', not a "
     "naive baseline of a binary label; choose from prior, logistic"),
])
def test_config_mistakes_are_reported_precisely(toy, extra, expected):
    assert expected in error_of(toy(extra=extra))


def test_parallel_components_must_be_at_least_one(toy):
    text = MINIMAL.replace("[pipeline]\n", "[pipeline]\nparallel_components = 0\n")
    assert "'pipeline.parallel_components' must be >= 1" in error_of(toy(text))
    assert load_config(toy()).pipeline.parallel_components == 2


def test_missing_required_key(toy):
    text = MINIMAL.replace('kind = "binary"\n', "")
    assert "missing required key 'label.kind'" in error_of(toy(text))


def test_balanced_class_weights_for_a_regression_label_are_refused(toy):
    text = MINIMAL.replace('kind = "binary"', 'kind = "regression"')
    assert "'model.class_weight' = 'balanced' is for binary and multiclass labels" in error_of(
        toy(text, '[model]\nclass_weight = "balanced"\n'))
    assert load_config(toy(text, '[model]\nclass_weight = "none"\n')).model.class_weight == "none"


def test_label_listed_as_feature_is_refused(toy):
    text = MINIMAL.replace('numeric = ["a"]', 'numeric = ["a", "y"]')
    assert "label column 'y' is listed as a feature" in error_of(toy(text))


def test_feature_not_in_data(toy):
    text = MINIMAL.replace('categorical = ["b"]', 'categorical = ["bb"]')
    assert "feature 'bb' is not a column of the data (did you mean 'b'?)" in error_of(toy(text))


def test_slice_column_not_in_data(toy):
    assert "slice column 'zone'" in error_of(toy(extra='[evaluation]\nslices = [["zone"]]\n'))


def test_min_lift_defaults_to_beating_the_best_baseline(toy):
    assert load_config(toy()).evaluation.min_lift == 0.0
    # over the constant baselines unless the config names others
    assert load_config(toy()).evaluation.gated_baselines("binary") == ("prior",)
    named = load_config(toy(extra="[evaluation]\nlift_over = ['prior', 'logistic']\n"))
    assert named.evaluation.gated_baselines("binary") == ("prior", "logistic")
    assert load_config(toy(extra="[evaluation]\nmin_lift = 0.02\n")).evaluation.min_lift == 0.02


def test_a_key_slice_must_be_one_of_the_evaluated_slices(toy):
    extra = '[evaluation]\nslices = [["b"]]\nkey_slices = [{b = "x"}]\n'
    assert load_config(toy(extra=extra)).evaluation.key_slices == [{"b": "x"}]
    wrong = extra.replace('{b = "x"}', '{a = "1"}')
    assert "key slice {'a': '1'} is not among the evaluated slices" in error_of(toy(extra=wrong))
    number = extra.replace('"x"', "1")
    assert "'evaluation.key_slices[0].b' must be a string" in error_of(toy(extra=number))


def test_missing_data_file(toy, tmp_path):
    text = MINIMAL.replace("{csv}", str(tmp_path / "absent.csv"))
    assert "data source not found" in error_of(toy(text))


def test_missing_config_file(tmp_path):
    assert "config file not found" in error_of(tmp_path / "nope.toml")


def test_invalid_toml(toy):
    assert "not valid TOML" in error_of(toy(extra="[model\n"))


def test_empty_and_header_only_data(toy, tmp_path):
    path = toy()
    csv = tmp_path / "toy.csv"
    csv.write_text("")
    assert "the file is empty" in error_of(path)
    csv.write_text("a,b,y\n")
    assert "has a header but no data rows" in error_of(path)


def test_bench_like_for_like_config_does_the_stock_examples_work(tmp_path):
    from bench.speed import like_for_like_config
    from pipeline.inputs.sources import tfx_taxi_csv

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "schemas").symlink_to(TAXI.parents[2] / "schemas")
    config = load_config(like_for_like_config(str(TAXI), tmp_path / "like.toml"))
    default = load_config(TAXI)
    assert config.data.source == str(tfx_taxi_csv())  # the whole file, as the stock example
    assert config.spans.window == 1 and not config.optimization.enabled
    assert config.validation.skew_min_examples > 15_002  # skew reported, not judged
    # Everything else as in the default config.
    assert (config.model, config.features, config.evaluation, config.beam) == (
        default.model, default.features, default.evaluation, default.beam)


def test_bench_table_compares_the_medians_of_repeated_runs():
    from bench.speed import LIKE_NAME, STOCK_NAME, Measurement, render

    results = [Measurement(LIKE_NAME, seconds, 2000, 0) for seconds in (44.0, 39.0, 40.0)]
    results += [Measurement(STOCK_NAME, seconds, 3000, code)
                for seconds, code in ((90.0, 0), (80.0, 1), (84.0, 0))]
    table = render(results)
    assert f"| {LIKE_NAME} | 40.0 (median of 3: 39.0, 40.0, 44.0) | 2000 | 0 |" in table
    assert f"| {STOCK_NAME} | 84.0 (median of 3: 80.0, 84.0, 90.0) | 3000 | 1 |" in table
    assert "(medians): 0.48 of its time (goal: at most 0.5)" in table
    assert "| x | 7.0 | 900 | 0 |" in render([Measurement("x", 7.0, 900, 0)])


TUNING = """
[evaluation]
slices = [["b"]]
key_slices = [{b = "x"}]
[tuning]
enabled = true
objective_slice = {b = "x"}
[tuning.space]
learning_rate = {min = 1e-4, max = 1e-2, log = true}
hidden_units = [[16, 8], [32]]
batch_size = [32, 64]
"""


def test_a_tuning_section_loads_with_the_tasks_objective_and_reaches_the_tuner(toy):
    from pipeline.dag.user_code import tuner_config

    config = load_config(toy(extra=TUNING))
    assert config.tuning.space.names == ["learning_rate", "hidden_units", "batch_size"]
    assert config.tuning_objective == "val_auc"
    tuner = tuner_config(config, custom_config(config))
    assert tuner["tuning"]["objective_slice"] == {"b": "x"}
    assert tuner["tuning"]["higher_is_better"] is True
    assert tuner["tuning"]["space"]["hidden_units"] == [[16, 8], [32]]
    assert "tuning" not in custom_config(config)   # the Trainer's and Transform's cache keys


@pytest.mark.parametrize("old, new, expected", [
    ('enabled = true', 'enabled = true\nalgorithm = "grid"',
     "'tuning.algorithm' must be one of random, bayesian, hyperband, got 'grid'"),
    ('enabled = true', 'enabled = true\nobjective = "val_mae"',
     "'tuning.objective' 'val_mae' is not available for a binary label; choose from val_auc, "
     "val_loss"),
    ('enabled = true', 'enabled = true\ntrials = 0', "'tuning.trials' must be a positive"),
    ('objective_slice = {b = "x"}', 'objective_slice = {b = "y"}',
     "'tuning.objective_slice' {'b': 'y'} must be one of 'evaluation.key_slices'"),
    ('max = 1e-2, log = true', 'max = 1e-5, log = true',
     "'tuning.space.learning_rate' must have 0.0 <= min < max, got min = 0.0001, max = 1e-05"),
    ('learning_rate = {min = 1e-4,',
     'dropout = {min = 0.1, max = 1.0}\nlearning_rate = {min = 1e-4,',
     "'tuning.space.dropout' must have 0.0 <= min < max and below 1.0"),
    ('learning_rate = {min = 1e-4,', 'l2 = {min = 0.0, max = 0.1, log = true}\n'
     'learning_rate = {min = 1e-4,', "'tuning.space.l2' with log = true needs min > 0"),
    ('[[16, 8], [32]]', '[[16, 8], []]', "'tuning.space.hidden_units' must be a list of layer"),
    ('[32, 64]', '[32, 32]', "'tuning.space.batch_size' lists a choice twice"),
    ('batch_size = [32, 64]', 'batch_size = [32, 64]\nepochs = [1]',
     "unknown key 'tuning.space.epochs'"),
])
def test_tuning_mistakes_are_one_line_each(toy, old, new, expected):
    assert expected in error_of(toy(extra=TUNING.replace(old, new)))


def test_tuning_enabled_without_a_space_and_an_objective_slice_on_a_numeric_column(toy):
    bare = "[tuning]\nenabled = true\n"
    assert "[tuning.space] sets no hyperparameter to search" in error_of(toy(extra=bare))
    numeric = TUNING.replace('["b"]', '["a"]').replace('b = "x"', 'a = "1"')
    assert ("'tuning.objective_slice' column 'a' must be a categorical feature"
            in error_of(toy(extra=numeric)))


def test_the_tune_flag_turns_tuning_on_and_needs_a_search_space(toy, capsys):
    from pipeline.cli import _apply_overrides, build_parser, main

    path = toy(extra=TUNING.replace("enabled = true", "enabled = false"))
    args = build_parser().parse_args(["run", "--tune", "--config", str(path)])
    assert not load_config(path).tuning.enabled
    assert _apply_overrides(load_config(path), args).tuning.enabled
    bare = toy()
    assert main(["run", "--tune", "--config", str(bare), "--output-root",
                 str(bare.parent / "out")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --tune: toy.toml has no [tuning.space] to search; add one "
        "(docs/configuration.md, [tuning])")


def test_the_configs_baseline_names_are_those_the_component_fits():
    from components.naive_baselines.fit import BASELINE_NAMES
    from pipeline.config.catalogue import BASELINES, CONSTANT_BASELINES

    assert BASELINES == BASELINE_NAMES
    assert all(set(CONSTANT_BASELINES[k]) <= set(BASELINES[k]) for k in BASELINES)



@pytest.mark.parametrize("below", ["", "below"])
def test_an_output_root_that_is_a_file_is_one_line(toy, tmp_path, below):
    (tmp_path / "afile").write_text("")
    with pytest.raises(ConfigError) as info:  # it was a raw FileExistsError
        load_config(toy(), str(tmp_path / "afile" / below))
    assert f"but {tmp_path / 'afile'} is a file, not a folder" in str(info.value)
