"""The CSV ExampleGen executor on real files: the same examples and splits as TFX's own
CsvExampleGen on the taxi data, and missing values, spaces, delimiters, byte-order marks and
line endings as users write them."""

from __future__ import annotations

import re
import shutil

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as keys
from tfx.utils import proto_utils

from components.csv_example_gen import CsvFormat, reading, writing
from components.csv_example_gen.executor import Executor
from components.shared.params import encode
from pipeline.inputs.sources import tfx_taxi_csv


def _properties(input_base, fmt: CsvFormat | None = None) -> dict:
    splits = [example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
              example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]
    properties = {
        keys.INPUT_BASE_KEY: str(input_base),
        keys.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")])),
        keys.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=splits))),
        keys.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        keys.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    if fmt is not None:
        properties["csv_format"] = encode(fmt)
    return properties


def _run(executor, input_base, out, fmt: CsvFormat | None = None) -> dict[str, list]:
    """{split: examples, each in its deterministic serialisation, sorted}."""
    artifact = standard_artifacts.Examples()
    artifact.uri = str(out)
    executor.Do({}, {"examples": [artifact]}, _properties(input_base, fmt))
    found = {}
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(f"{out}/Split-{split}/*")
        found[split] = sorted(
            tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    return found


def _values(found: dict[str, list]) -> list[dict]:
    """Every example of every split as {column: list of values, or None for no kind}."""
    rows = []
    for records in found.values():
        for record in records:
            example = tf.train.Example.FromString(record)
            row = {}
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                row[name] = None if kind is None else list(getattr(feature, kind).value)
            rows.append(row)
    return sorted(rows, key=lambda r: str(sorted(r.items())))


def test_the_taxi_data_gives_the_examples_and_splits_of_tfxs_csv_example_gen(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    shutil.copy(tfx_taxi_csv(), data / "data.csv")
    ours = _run(Executor(), data, tmp_path / "ours")
    theirs = _run(tfx_csv.Executor(), data, tmp_path / "theirs")
    assert len(ours["train"]) + len(ours["eval"]) == 15002
    assert ours == theirs


CLEAN = "id,size,colour,grade,empty\n1,2.5,red,7,\n2,3.0,blue,8,\n3,4.0,red,9,\n4,1.0,green,10,\n"
# The same rows as users write them: a byte-order mark, semicolons, CRLF, R's NA, spaces.
DIRTY = ("\ufeffid;size;colour;grade;empty\r\n1; 2.5 ;red;7;NA\r\n2;3.0;blue;8;\r\n"
         "3;4.0;red; 9 ;n/a\r\n4;1.0;green;10;-\r\n")


def test_missing_values_spaces_delimiters_and_line_endings_as_users_write_them(tmp_path):
    for name, text in (("clean", CLEAN), ("dirty", DIRTY)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "data.csv").write_text(text, encoding="utf-8", newline="")
    clean = _values(_run(Executor(), tmp_path / "clean", tmp_path / "clean-out"))
    dirty = _values(_run(Executor(), tmp_path / "dirty", tmp_path / "dirty-out",
                         CsvFormat(delimiter=";")))
    assert dirty == clean
    assert {r["id"][0]: r["size"] for r in clean} == {1: [2.5], 2: [3.0], 3: [4.0], 4: [1.0]}
    assert all(r["empty"] is None for r in clean)  # no value in any row: no kind, as TFX's


def test_a_missing_category_is_missing_not_a_category_and_types_can_be_set(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_text("x,c\n1,NA\n2,a\n3, null \n4,N/A\n")
    rows = _values(_run(Executor(), tmp_path / "in", tmp_path / "out",
                        CsvFormat(column_types={"x": "float"})))
    assert {r["x"][0]: r["c"] for r in rows} == {1.0: [], 2.0: [b"a"], 3.0: [], 4.0: []}
    with pytest.raises(ValueError, match="column 'c' holds a value that is not int"):
        _run(Executor(), tmp_path / "in", tmp_path / "bad", CsvFormat(column_types={"c": "int"}))


def test_input_splits_as_given_are_written_as_tfxs_csv_example_gen_writes_them(tmp_path):
    """Without output hash buckets, TFX's base executor takes each input split as it is."""
    for split, text in (("train", "id,g\n1,a\n2,b\n3,NA\n"), ("eval", "id,g\n4,c\n")):
        (tmp_path / "in" / split).mkdir(parents=True)
        (tmp_path / "in" / split / "data.csv").write_text(text)
    properties = _properties(tmp_path / "in")
    properties[keys.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=name, pattern=f"{name}/*.csv")
        for name in ("train", "eval")]))
    properties[keys.OUTPUT_CONFIG_KEY] = proto_utils.proto_to_json(example_gen_pb2.Output())
    found = {}
    for name, executor in (("ours", Executor()), ("theirs", tfx_csv.Executor())):
        artifact = standard_artifacts.Examples()
        artifact.uri = str(tmp_path / name)
        executor.Do({}, {"examples": [artifact]}, properties)
        found[name] = {split: sorted(
            tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
            for r in tf.data.TFRecordDataset(tf.io.gfile.glob(
                f"{tmp_path / name}/Split-{split}/*"), compression_type="GZIP"))
            for split in ("train", "eval")}
    assert [len(found["ours"][s]) for s in ("train", "eval")] == [3, 1]
    # "NA" is a missing value to ours, the text "NA" to TFX's; every other row is the same.
    assert found["ours"]["eval"] == found["theirs"]["eval"]
    assert len(set(found["ours"]["train"]) & set(found["theirs"]["train"])) == 2


def _artifact_run(executor, input_base, out) -> standard_artifacts.Examples:
    artifact = standard_artifacts.Examples()
    artifact.uri = str(out)
    executor.Do({}, {"examples": [artifact]}, _properties(input_base))
    return artifact


def _file_bytes(out) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*"))
            if path.is_file()}


def _records_in_order(out) -> dict[str, list[bytes]]:
    """{split: its examples in the files' order, each in its deterministic serialisation}."""
    return {split: [tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
                    for r in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(f"{out}/Split-{split}/*")), "GZIP")] for split in ("train", "eval")}


def test_splits_hold_tfxs_records_in_tfxs_order_with_its_artifact_properties(tmp_path):
    """On the DirectRunner TFX's ExampleGen writes a split in the input's order; so does ours,
    record for record, in its files sorted by name (the Trainer's data order, and so its
    weights, depend on it)."""
    (tmp_path / "in").mkdir()
    rows = "".join(f"{i},{i % 7},{'abc'[i % 3]}\n" for i in range(3000))
    (tmp_path / "in" / "data.csv").write_text("id,n,c\n" + rows)
    ours = _artifact_run(Executor(), tmp_path / "in", tmp_path / "ours")
    theirs = _artifact_run(tfx_csv.Executor(), tmp_path / "in", tmp_path / "theirs")
    assert sorted(_file_bytes(tmp_path / "ours")) == [
        f"Split-{s}/data_tfrecord-00000-00000.gz" for s in ("eval", "train")]
    found = _records_in_order(tmp_path / "ours")
    assert [len(found[s]) for s in ("train", "eval")] == [2262, 738]
    assert found == _records_in_order(tmp_path / "theirs")
    assert ours.split_names == theirs.split_names
    assert dict(ours.mlmd_artifact.custom_properties) == dict(
        theirs.mlmd_artifact.custom_properties)


def _ids(records: list[bytes]) -> list[int]:
    return [tf.train.Example.FromString(r).features.feature["id"].int64_list.value[0]
            for r in records]


def test_a_file_per_batch_and_split_sorts_in_the_order_of_the_files_and_rows(tmp_path,
                                                                            monkeypatch):
    """Several CSV files read in small blocks: each batch's piece of a split is a file, and the
    split's files sorted by name hold TFX's examples in the order of the files and their rows;
    nothing else is left in the artifact (no file written aside)."""
    (tmp_path / "in").mkdir()
    for part in range(3):
        ids = range(part * 1000, (part + 1) * 1000)
        rows = "".join(f"{i},{i % 5},{'xyz'[i % 3]}\n" for i in ids)
        (tmp_path / "in" / f"part-{part}.csv").write_text("id,n,c\n" + rows)
    monkeypatch.setattr(reading, "_BLOCK_BYTES", 4096)
    _artifact_run(Executor(), tmp_path / "in", tmp_path / "ours")
    _artifact_run(tfx_csv.Executor(), tmp_path / "in", tmp_path / "theirs")
    names = sorted(_file_bytes(tmp_path / "ours"))
    assert len(names) > 6 and all(
        re.fullmatch(r"Split-(train|eval)/data_tfrecord-0000[0-2]-\d{5}\.gz", n) for n in names)
    found = _records_in_order(tmp_path / "ours")
    for split in ("train", "eval"):
        assert _ids(found[split]) == sorted(_ids(found[split]))
    assert sum(len(records) for records in found.values()) == 3000
    theirs = _records_in_order(tmp_path / "theirs")
    assert {s: sorted(r) for s, r in found.items()} == {s: sorted(r) for s, r in theirs.items()}


def test_a_write_that_fails_leaves_no_file_in_the_split(tmp_path):
    def records():
        yield b"one"
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        writing.write_file(str(tmp_path / "Split-train" / writing.file_name(0, 0)), records(),
                           str(tmp_path / ".aside"))
    assert not list((tmp_path / "Split-train").iterdir())


def test_a_split_no_row_goes_to_is_an_empty_file_as_in_tfxs_output(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_text("id,c\n1,a\n")
    _artifact_run(Executor(), tmp_path / "in", tmp_path / "ours")
    _artifact_run(tfx_csv.Executor(), tmp_path / "in", tmp_path / "theirs")
    ours, theirs = (sorted(_file_bytes(tmp_path / name)) for name in ("ours", "theirs"))
    assert [name.split("/")[0] for name in ours] == [name.split("/")[0] for name in theirs] == [
        "Split-eval", "Split-train"]
    found = _records_in_order(tmp_path / "ours")
    assert sorted(len(records) for records in found.values()) == [0, 1]
    assert found == _records_in_order(tmp_path / "theirs")


def test_a_quoted_field_holding_line_breaks_is_one_value_of_one_example(tmp_path):
    """As a spreadsheet writes a comment or an address (TFX's CsvExampleGen reads a line at a
    time: it fails on this file)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_text(
        'id,note,size\r\n1,"first line\r\nsecond, with a comma",2.5\r\n2,plain,3\r\n'
        '3,"ends with ""quotes""\nand a break",4\r\n', encoding="utf-8", newline="")
    rows = _values(_run(Executor(), tmp_path / "in", tmp_path / "out"))
    assert {r["id"][0]: (r["note"], r["size"]) for r in rows} == {
        1: ([b"first line\r\nsecond, with a comma"], [2.5]), 2: ([b"plain"], [3.0]),
        3: ([b'ends with "quotes"\nand a break'], [4.0])}
