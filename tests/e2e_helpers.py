"""Shared helpers for the end-to-end tests: run the CLI as a user would, read MLMD and models."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import tensorflow as tf

PROJECT = Path(__file__).resolve().parents[1]
TAXI_CONFIG = PROJECT / "pipeline" / "configs" / "taxi.toml"


def run_cli(*args: str, timeout: int = 900, home: Path | None = None
            ) -> subprocess.CompletedProcess:
    """`tfxpipe ARGS` in a subprocess, from the project folder, output captured.

    With `home`, the command runs with HOME set to it and without the test session's KERAS_HOME,
    as a user's shell would, so that a test can check that nothing was written there.
    """
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    if home is not None:
        env["HOME"] = str(home)
        env.pop("KERAS_HOME", None)
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_config(path: Path, base: Path, replacements: dict[str, str]) -> Path:
    """A copy of config `base` with some lines replaced (each key must occur exactly once)."""
    text = base.read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {base}"
        text = text.replace(old, new)
    path.write_text(text)
    return path


def states_of_run(metadata_path: Path, pipeline_name: str, run_id: str) -> dict[str, str]:
    from pipeline.mlmd import open_store, run_nodes

    nodes = run_nodes(open_store(metadata_path), pipeline_name, run_id)
    return {node_id: record.state for node_id, record in nodes.items()}


def last_run_id(runs_dir: Path) -> str:
    return sorted(p.name for p in runs_dir.iterdir())[-1]


def read_summary(runs_dir: Path, run_id: str) -> dict:
    return json.loads((runs_dir / run_id / "summary.json").read_text())


def csv_rows(path: Path, limit: int) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for _, row in zip(range(limit), csv.DictReader(handle), strict=False)]


def to_example(row: dict[str, str], types: dict[str, str], drop: tuple[str, ...] = ()
               ) -> bytes:
    """A serialized tf.Example of a raw CSV row; empty cells become missing features."""
    feature = {}
    for name, value in row.items():
        if name in drop or value == "":
            continue
        kind = types.get(name, "bytes")
        if kind == "int":
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        elif kind == "float":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        else:
            feature[name] = tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def raw_types(transform_graph_uri: str) -> dict[str, str]:
    """Raw column types as the pipeline saw them (int/float/bytes), from the Transform output."""
    import tensorflow_transform as tft

    spec = tft.TFTransformOutput(transform_graph_uri).raw_feature_spec()
    kinds = {tf.int64: "int", tf.float32: "float", tf.string: "bytes"}
    return {name: kinds[feature.dtype] for name, feature in spec.items()}
