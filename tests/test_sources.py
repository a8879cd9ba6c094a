"""Where a run's data comes from: a sample of a user's CSV never touches the user's file."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from pipeline.config import load_config
from pipeline.inputs.prepare import prepare_input
from tests.fixtures.configs import MINIMAL


def test_a_sample_of_a_csv_file_is_a_copy_under_the_output_root(toy, tmp_path):
    path = toy(MINIMAL.replace('source = "{csv}"', 'source = "{csv}"\nsample_rows = 2'))
    source = tmp_path / "toy.csv"
    source.write_text("a,b,y\n1.0,x,1\n2.0,y,0\n3.0,x,1\n")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    config = load_config(path, str(tmp_path / "out"))
    data = prepare_input(config)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    [sampled] = data.files
    assert sampled.path.startswith(str(tmp_path / "out")) and sampled.rows == 2
    assert config.data.sample_rows == 2


def test_a_sample_of_the_taxi_data_is_written_under_the_output_root_not_the_shared_folder(
        tmp_path):
    """The materialised taxi folder is shared by every output root: a sample written there cut
    the spans of a run reading them on another output root."""
    from pipeline.inputs.sources import input_location
    from tests.fixtures.configs import TAXI

    def files(folder: Path) -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*.csv")}

    config = load_config(TAXI, str(tmp_path / "out"))
    config = replace(config, data=replace(config.data, sample_rows=100))
    shared = files(config.data_dir) if config.data_dir.exists() else {}
    folder, pattern = input_location(config)
    assert folder == config.pipeline_dir / "samples" / "taxi-first-100"
    written = sorted(folder.glob("span-*/*.csv"))
    assert written and sum(len(p.read_text().splitlines()) - 1 for p in written) == 100
    assert (files(config.data_dir) if config.data_dir.exists() else {}) == shared
