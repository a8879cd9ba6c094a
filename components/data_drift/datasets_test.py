"""Which files DataDrift reads: a window SpanWindow copied from the span and the previous span
is not read again (its datasets go to the original files), unless the copy is not the same
artifact or not the same size; the report is the same either way."""

import json
import os

from tfx.types import standard_artifacts

from components.data_drift import datasets
from components.span_window.executor import Executor as SpanWindow
from tests.fixtures.trips import (
    LABEL,
    examples_artifact,
    run_data_drift,
    train_eval,
    trips,
)

FILE = "data_tfrecord-00000-of-00001.gz"


def _spans(tmp_path):
    return [examples_artifact(tmp_path, f"span{n}", n, train_eval(trips(200, 0.3, seed=n)))
            for n in (1, 2, 3)]


def _window(tmp_path, spans, name="window"):
    window = standard_artifacts.Examples()
    window.uri = str(tmp_path / name)
    SpanWindow().Do({"examples": spans}, {"window": [window]}, {})
    return window


def _file(artifact, split: str, name: str = FILE) -> str:
    return os.path.join(artifact.uri, f"Split-{split}", name)


def test_copies_of_the_span_and_the_previous_span_are_read_as_their_originals(tmp_path):
    older, previous, span = _spans(tmp_path)
    window = _window(tmp_path, [older, previous, span])
    found = datasets.datasets(span, previous, [window], LABEL)
    parts = datasets.file_parts(found, [window], [span, previous])
    assert parts == {
        _file(span, "train"): ("span", "train"),
        _file(span, "eval"): ("eval", "span"),
        _file(previous, "train"): ("previous_span", "train"),
        _file(previous, "eval"): ("eval", "previous_span"),
        # span 1 is in the window only: its copies are read.
        _file(window, "train", f"span-1-{FILE}"): ("train",),
        _file(window, "eval", f"span-1-{FILE}"): ("eval",),
    }


def test_a_copy_of_another_artifact_or_of_another_size_is_read(tmp_path):
    _, previous, span = _spans(tmp_path)
    window = _window(tmp_path, [previous, span])
    with open(_file(window, "eval", f"span-2-{FILE}"), "ab") as handle:
        handle.write(b"\0")  # not the file it was copied from
    window.set_string_custom_property(datasets.COPIED_IDS, json.dumps([previous.id, 99]))
    parts = datasets.file_parts(datasets.datasets(span, previous, [window], LABEL), [window],
                                [span, previous])
    assert parts[_file(window, "train", f"span-3-{FILE}")] == ("train",)  # id 99, not span's
    assert parts[_file(window, "eval", f"span-2-{FILE}")] == ("eval",)    # size differs
    assert parts[_file(previous, "train")] == ("previous_span", "train")
    assert parts[_file(span, "train")] == ("span",)


def test_the_report_is_the_same_as_when_every_copy_is_read(tmp_path):
    older, previous, span = _spans(tmp_path)
    reports = []
    for name, copied_ids in (("once", True), ("twice", False)):
        window = _window(tmp_path, [older, previous, span], f"window-{name}")
        if not copied_ids:
            window.mlmd_artifact.custom_properties.pop(datasets.COPIED_IDS)
        folder = tmp_path / name
        os.makedirs(folder)
        _, content = run_data_drift(folder, span, baseline=previous, window=[window])
        reports.append(content)
    assert reports[0] == reports[1]
    assert reports[0]["window_examples"] == {"train": 450, "eval": 150}
    assert [r["feature"] for r in reports[0]["drift"]] and reports[0]["skew"]
