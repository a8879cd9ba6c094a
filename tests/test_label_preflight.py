"""A binary label as users write it: numbers, true/false or yes/no in any case, or text named by
`positive_values`. The pre-flight reads every cell as Transform will (`labels.binary_class`) and
halts in one line on text it cannot read, or on a window whose label is one class; before, a
yes/no label without `positive_values` crashed Transform with TensorFlow's StringToNumberOp.
"""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.inputs import checked_files
from pipeline.inputs.preflight import DataInputError
from pipeline.inputs.prepare import prepare_input
from tests.fixtures.configs import MINIMAL


def _prepared(toy, tmp_path, labels: list[str], positive_values: str = ""):
    """prepare_input on a toy CSV whose label column holds `labels`."""
    config = MINIMAL.replace('kind = "binary"', f'kind = "binary"\n{positive_values}')
    path = toy(config)
    rows = "".join(f"{i}.5,{'xy'[i % 2]},{label}\n" for i, label in enumerate(labels))
    (tmp_path / "toy.csv").write_text("a,b,y\n" + rows)
    return prepare_input(load_config(path, str(tmp_path / "out")))


def _halted(toy, tmp_path, labels: list[str], positive_values: str = "") -> dict[str, str]:
    with pytest.raises(DataInputError) as info:
        _prepared(toy, tmp_path, labels, positive_values)
    assert "\n" not in str(info.value)
    [row] = info.value.rows
    assert row["severity"] == "halt"
    return row


def test_true_false_and_yes_no_in_any_case_are_counted_as_transform_reads_them(toy, tmp_path):
    data = _prepared(toy, tmp_path, ["yes", "No", " TRUE ", "false", "Y", "n", "1", "0.0"])
    assert {k: data.label.classes[k] for k in ("0", "1")} == {"0": 4, "1": 4}
    assert not data.label.unread()


def test_text_that_is_no_class_halts_naming_it_and_the_fix(toy, tmp_path):
    row = _halted(toy, tmp_path, ["yes", "no", "maybe", "unsure", "maybe", "later", "never"])
    assert row["kind"] == "NOT_BINARY" and row["feature"] == "y"
    assert "'maybe', 'unsure', 'later'" in row["description"]  # three examples, then counted
    assert "set [label] positive_values" in row["description"]
    assert "missing_values" in row["description"]
    assert row["observed"] == "5 of 7 rows"


def test_a_label_of_one_class_halts_before_a_model_is_trained_on_it(toy, tmp_path):
    row = _halted(toy, tmp_path, ["1", "2", "5"])  # counts: all positive
    assert row["kind"] == "ONE_LABEL_CLASS"
    assert "is positive (1) in all 3 rows that have one" in row["description"]
    assert row["file"] == str(tmp_path / "toy.csv")
    assert row["observed"] == "3 rows of positive (1)"


def test_positive_values_written_otherwise_than_the_data_halt_as_one_class(toy, tmp_path):
    row = _halted(toy, tmp_path, ["yes", "no", "no"], 'positive_values = ["Yes"]')
    assert row["kind"] == "ONE_LABEL_CLASS"
    assert "(y in ['Yes']) is negative (0) in all 3 rows" in row["description"]
    data = _prepared(toy, tmp_path, ["yes", "no", "maybe"], 'positive_values = ["yes"]')
    assert {k: data.label.classes[k] for k in ("0", "1")} == {"0": 2, "1": 1}


def test_kept_findings_are_read_back_and_another_reading_of_the_label_reads_again(
        toy, tmp_path, monkeypatch):
    first = _prepared(toy, tmp_path, ["yes", "no", "no"]).label
    read = checked_files.read_csv
    monkeypatch.setattr(checked_files, "read_csv", lambda *args: pytest.fail("read again"))
    config = load_config(tmp_path / "toy.toml", str(tmp_path / "out"))
    assert prepare_input(config).label.classes == first.classes == {"0": 2, "1": 1}
    monkeypatch.setattr(checked_files, "read_csv", read)
    flipped = _prepared(toy, tmp_path, ["yes", "no", "no"], 'positive_values = ["no"]').label
    assert flipped.classes == {"0": 1, "1": 2}


def test_a_missing_label_halts_naming_the_file_its_count_and_first_line(toy, tmp_path):
    row = _halted(toy, tmp_path, ["1", "0", "", "1", "NA"])
    assert row["kind"] == "MISSING_LABEL" and row["file"] == str(tmp_path / "toy.csv")
    assert "missing in 2 of 5 rows (the first on line 4)" in row["description"]
    assert row["observed"] == "2 of 5 rows"


@pytest.mark.parametrize(("kind", "labels", "said"), [
    ("multiclass", ["setosa", "setosa", "setosa"], "is 'setosa' in all 3 rows"),
    ("regression", ["2.5", "2.50", "2.5"], "is 2.5 in all 3 rows"),
])
def test_a_label_of_one_value_halts_for_every_kind(toy, tmp_path, kind, labels, said):
    path = toy(MINIMAL.replace('kind = "binary"', f'kind = "{kind}"'))
    rows = "".join(f"{i}.5,x,{label}\n" for i, label in enumerate(labels))
    (tmp_path / "toy.csv").write_text("a,b,y\n" + rows)
    with pytest.raises(DataInputError) as info:
        prepare_input(load_config(path, str(tmp_path / "out")))
    [row] = info.value.rows
    assert row["kind"] == "ONE_LABEL_CLASS" and said in row["description"]


def test_one_labelled_row_is_left_to_the_empty_split_gate(toy, tmp_path):
    assert _prepared(toy, tmp_path, ["1"]).label.classes == {"1": 1}


def test_infinite_numbers_halt_as_not_numbers(toy, tmp_path):
    path = toy()
    (tmp_path / "toy.csv").write_text("a,b,y\n1.5,x,1\ninf,y,0\n-Infinity,x,1\n")
    with pytest.raises(DataInputError) as info:
        prepare_input(load_config(path, str(tmp_path / "out")))
    [row] = info.value.rows
    assert row["kind"] == "NOT_NUMERIC" and "'inf', '-Infinity'" in row["description"]

