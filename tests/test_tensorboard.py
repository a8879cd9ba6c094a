"""TensorBoard from the locked environment serves a Trainer's logs (docs/reviewing-runs.md
points users to them): started as a user would, on 127.0.0.1, its page and its runs fetched
once, stopped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

TENSORBOARD = Path(sys.executable).parent / "tensorboard"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


@pytest.fixture
def tensorboard(tiny_pipeline, tmp_path):
    logs = os.path.join(tiny_pipeline.model, "logs")
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp_path)}  # it must write nothing there either
    process = subprocess.Popen(
        [str(TENSORBOARD), "--logdir", logs, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        yield f"http://127.0.0.1:{port}", process, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_tensorboard_serves_the_trainers_logs(tensorboard):
    url, process, home = tensorboard
    deadline = time.monotonic() + 90
    page = b""
    while time.monotonic() < deadline and process.poll() is None:
        try:
            page = _get(url + "/")
            break
        except OSError:
            time.sleep(0.5)
    assert process.poll() is None, process.stdout.read()  # it did not crash on start
    assert b"<tf-tensorboard" in page or b"TensorBoard" in page
    runs = json.loads(_get(url + "/data/runs"))
    assert {"train", "validation"} <= set(runs)
    assert list(home.iterdir()) == []
