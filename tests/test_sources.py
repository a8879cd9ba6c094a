"""Where a run's data comes from: a sample of a user's CSV never touches the user's file."""

from __future__ import annotations

import hashlib

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
