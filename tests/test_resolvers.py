"""The baseline resolver: the latest blessed model other than this run's candidate."""

from tfx.types import standard_artifacts

from pipeline.dag.resolvers import LatestBlessedOtherModelStrategy


def _model(artifact_id: int) -> standard_artifacts.Model:
    model = standard_artifacts.Model()
    model.id = artifact_id
    return model


def _blessing(model_id: int, blessed: int) -> standard_artifacts.ModelBlessing:
    blessing = standard_artifacts.ModelBlessing()
    blessing.id = 100 + model_id
    blessing.set_int_custom_property("current_model_id", model_id)
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def _resolve(models, blessings, candidate):
    return LatestBlessedOtherModelStrategy().resolve_artifacts(
        None, {"model": models, "model_blessing": blessings, "candidate": candidate})


def test_the_candidate_is_never_its_own_baseline():
    models = [_model(1), _model(2), _model(3)]
    blessings = [_blessing(1, 1), _blessing(2, 1), _blessing(3, 0)]
    result = _resolve(models, blessings, [models[1]])
    assert [m.id for m in result["model"]] == [1]
    assert [b.id for b in result["model_blessing"]] == [101]
    assert [m.id for m in result["candidate"]] == [2]


def test_a_new_candidate_gets_the_latest_blessed_model():
    models = [_model(1), _model(2), _model(3)]
    result = _resolve(models, [_blessing(1, 1), _blessing(2, 1)], [models[2]])
    assert [m.id for m in result["model"]] == [2]


def test_only_the_candidate_blessed_means_no_baseline():
    models = [_model(1)]
    result = _resolve(models, [_blessing(1, 1)], models)
    assert result["model"] == [] and result["model_blessing"] == []


def test_nothing_blessed_yet_means_no_baseline():
    result = _resolve([_model(1)], [], [_model(1)])
    assert result["model"] == [] and result["model_blessing"] == []
