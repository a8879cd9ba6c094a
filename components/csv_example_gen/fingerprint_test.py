"""The input fingerprint with the files' contents, on real span folders."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

from tfx.components.example_gen import utils
from tfx.proto import example_gen_pb2, range_config_pb2

from components.csv_example_gen.driver import Driver
from components.csv_example_gen.fingerprint import fingerprint_span_and_version

SPLITS = [example_gen_pb2.Input.Split(name="single_split", pattern="span-{SPAN}/*.csv")]


def _tfxs(root: Path, span: int) -> str:
    """TFX's own fingerprint (its function fills the span into the splits it is given)."""
    return utils.calculate_splits_fingerprint_span_and_version(
        str(root), copy.deepcopy(SPLITS), _at(span))[0]


def _spans(root: Path) -> Path:
    for span, rows in ((1, "a,b\n1,x\n2,y\n"), (2, "a,b\n3,z\n")):
        path = root / f"span-{span}" / "data.csv"
        path.parent.mkdir(parents=True)
        path.write_text(rows)
    return root


def _at(span: int) -> range_config_pb2.RangeConfig:
    return range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
        start_span_number=span, end_span_number=span))


def test_a_file_replaced_with_its_size_and_time_has_another_fingerprint(tmp_path):
    root = _spans(tmp_path)
    data = root / "span-1" / "data.csv"
    first, span, version = fingerprint_span_and_version(str(root), SPLITS, _at(1))
    theirs = _tfxs(root, 1)
    assert (span, version) == (1, None)
    assert first.split("\n")[0] == theirs  # TFX's own first, unchanged
    assert fingerprint_span_and_version(str(root), SPLITS, _at(1))[0] == first  # same files

    stat = data.stat()
    data.write_text("a,b\n1,x\n9,y\n")  # as `cp -p` or `rsync -t` would leave it
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again, _, _ = fingerprint_span_and_version(str(root), SPLITS, _at(1))
    assert _tfxs(root, 1) == theirs  # TFX sees no change
    assert again != first and again.split("\n")[0] == theirs

    data.rename(root / "span-1" / "renamed.csv")  # the same bytes under another name
    assert fingerprint_span_and_version(str(root), SPLITS, _at(1))[0] != again


def test_the_driver_resolves_the_latest_span_and_records_the_contents(tmp_path):
    root = _spans(tmp_path)
    processor = Driver(metadata_handle=None).get_input_processor(SPLITS, None, str(root))
    assert processor.resolve_span_and_version() == (2, None)
    fingerprint = processor.get_input_fingerprint(2, None)
    assert fingerprint == fingerprint_span_and_version(str(root), SPLITS)[0]
    assert fingerprint.split("\n")[1].startswith("split:single_split,sha256:")
    assert processor.get_pattern_for_span_version(SPLITS[0].pattern, 2, None) == "span-2/*.csv"
    assert SPLITS[0].pattern == "span-{SPAN}/*.csv"  # the caller's splits are left as they were


def test_digests_the_caller_took_are_used_rather_than_read_again(tmp_path):
    root = _spans(tmp_path)
    path = root / "span-1" / "data.csv"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    read = fingerprint_span_and_version(str(root), SPLITS, _at(1))[0]
    assert fingerprint_span_and_version(str(root), SPLITS, _at(1), {str(path): digest})[0] == read
    assert fingerprint_span_and_version(str(root), SPLITS, _at(1), {str(path): "0" * 64}
                                        )[0] != read  # taken as given, not read
