"""The output root's lock, names and roots, the store's integrity check, what killed runs leave,
and errors that name a full disk: each on real files, real processes and a real ML Metadata
store (no pipeline run; the end-to-end scenarios are in tests/e2e/test_faults.py)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import ConfigError, load_config
from pipeline.orchestration.cleanup import clear_debris, find_debris
from pipeline.orchestration.lock import RootBusy, is_locked, output_root_lock
from pipeline.records.mlmd import open_store
from pipeline.records.outcomes import one_line
from pipeline.records.store_check import StoreError, check_store
from tests.fixtures import PROJECT
from tests.fixtures.cli import run_cli

HOLDER = """
import sys, time
from pathlib import Path
from pipeline.orchestration.lock import output_root_lock
with output_root_lock(Path(sys.argv[1]), "test holder") as record:
    record("20261130T000000000000Z")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(root: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(seconds)],
                              cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _config(tmp_path: Path, **pipeline: str) -> Path:
    settings = {"name": "p", "output_root": str(tmp_path / "out"), **pipeline}
    lines = "".join(f'{key} = "{value}"\n' for key, value in settings.items())
    path = tmp_path / "c.toml"
    path.write_text(f"""
[pipeline]
{lines}
[data]
source = "{tmp_path / 'data.csv'}"
[label]
column = "y"
kind = "binary"
[features]
numeric = ["x"]
""")
    (tmp_path / "data.csv").write_text("x,y\n1,0\n2,1\n")
    return path


def test_a_second_run_without_wait_exits_5_naming_the_holder(tmp_path):
    config = _config(tmp_path)
    holder = _hold(tmp_path / "out", 60)
    try:
        started = time.monotonic()
        busy = run_cli("run", "--config", str(config), "--no-wait", timeout=120)
        assert busy.returncode == 5, busy.stdout + busy.stderr
        assert f"pid {holder.pid}" in busy.stderr and "test holder" in busy.stderr
        assert "run 20261130T000000000000Z" in busy.stderr
        assert busy.stderr.count("\n") == 1 and time.monotonic() - started < 60
        assert not (tmp_path / "out" / "p" / "runs").exists()  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_run_says_who_holds_the_root_and_goes_on_when_it_ends(tmp_path):
    root = tmp_path / "out"
    holder = _hold(root, 2)
    said: list[str] = []
    started = time.monotonic()
    with output_root_lock(root, "second", say=said.append):
        waited = time.monotonic() - started
    holder.wait()
    assert len(said) == 1 and f"pid {holder.pid}" in said[0] and said[0].startswith("waiting:")
    assert 0.5 < waited < 30


def test_a_holder_killed_with_sigkill_never_blocks_the_next(tmp_path):
    root = tmp_path / "out"
    holder = _hold(root, 600)
    with pytest.raises(RootBusy):
        with output_root_lock(root, "second", wait=False):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with output_root_lock(root, "third", wait=False):  # the kernel released it
        pass


def test_a_lock_file_deleted_by_hand_under_a_holder_still_keeps_a_second_run_out(tmp_path):
    """Taken for a stale lock and deleted, the file was made again by the next run, which then
    held a lock of its own: both runs went on, and both pushed."""
    root = tmp_path / "out"
    holder = _hold(root, 600)
    try:
        (root / ".tfxpipe.lock").unlink()
        with pytest.raises(RootBusy, match=f"pid {holder.pid}"):
            with output_root_lock(root, "second", wait=False):
                pass
        assert is_locked(root)
    finally:
        holder.kill()
        holder.wait()
    with output_root_lock(root, "third", wait=False):
        pass
    assert not is_locked(root)


@pytest.mark.parametrize("key,value,expected", [
    ("model_name", "../../../x", "'pipeline.model_name' must be letters"),
    ("model_name", "a/b", "'pipeline.model_name' must be letters"),
    ("name", "..", "'pipeline.name' must be letters"),
    ("output_root", "/etc", "system folder /etc"),
    ("output_root", "/usr/local/out", "system folder /usr"),
    ("output_root", "/", "system folder /"),
])
def test_names_and_roots_that_would_write_outside_are_refused(tmp_path, key, value, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load_config(_config(tmp_path, **{key: value}))


def test_a_safe_model_name_and_a_root_under_tmp_load(tmp_path):
    config = load_config(_config(tmp_path, model_name="churn.v2-model_1"))
    assert config.model_dir == tmp_path / "out" / "p" / "serving" / "churn.v2-model_1"


def _store(path: Path, executions: int) -> metadata_store.MetadataStore:
    """A real ML Metadata store with `executions` executions, RUNNING, each in a node context
    and a pipeline run."""
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)
    store = metadata_store.MetadataStore(connection)
    kind = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    node = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    run = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    [node_id, run_id] = store.put_contexts([
        metadata_store_pb2.Context(type_id=node, name="p.Trainer"),
        metadata_store_pb2.Context(type_id=run, name="20261130T000000000000Z")])
    for _ in range(executions):
        execution = metadata_store_pb2.Execution(
            type_id=kind, last_known_state=metadata_store_pb2.Execution.RUNNING)
        [execution_id] = store.put_executions([execution])
        store.put_attributions_and_associations([], [
            metadata_store_pb2.Association(context_id=c, execution_id=execution_id)
            for c in (node_id, run_id)])
    return store


def test_a_store_missing_empty_or_older_than_the_pipeline_root_is_refused(tmp_path):
    config = load_config(_config(tmp_path))
    folder = config.pipeline_root / "Trainer" / "model" / "3"
    folder.mkdir(parents=True)
    with pytest.raises(StoreError, match=r"is missing, but .* \(up to execution 3\).*nothing was"):
        check_store(config, locked=True)
    config.metadata_path.write_bytes(b"")
    with pytest.raises(StoreError, match=r"is empty \(0 bytes\)"):
        check_store(config, locked=True)
    config.metadata_path.unlink()
    _store(config.metadata_path, 2)
    with pytest.raises(StoreError, match="knows executions up to 2, but .* execution 3"):
        check_store(config)
    before = sorted(p.name for p in config.pipeline_root.rglob("*"))
    listed = run_cli("runs", "--config", str(config.config_path), timeout=120)
    assert listed.returncode == 1 and "older than the artifacts" in listed.stderr
    refused = run_cli("run", "--config", str(config.config_path), timeout=120)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert sorted(p.name for p in config.pipeline_root.rglob("*")) == before
    assert not config.runs_dir.exists()


def test_a_store_of_another_root_or_with_a_damaged_page_is_refused(tmp_path):
    """A store copied from another output root was read as this one's (its runs listed, its
    artifacts served from cache, its model the baseline); a page zeroed in place passed the
    check, and the run failed at its first write ('database disk image is malformed')."""
    import sqlite3

    config = load_config(_config(tmp_path))
    config.metadata_path.parent.mkdir(parents=True)
    store = _store(config.metadata_path, 2)
    kind = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Model"))
    store.put_artifacts([metadata_store_pb2.Artifact(
        type_id=kind, uri=str(config.pipeline_root / "Trainer" / "model" / "2"))])
    check_store(config)
    store.put_artifacts([metadata_store_pb2.Artifact(
        type_id=kind, uri=str(tmp_path / "other" / "p" / "pipeline_root" / "Trainer" / "model"
                              / "1"))])
    with pytest.raises(StoreError, match=r"records artifacts outside .*another output root"):
        check_store(config)

    (tmp_path / "damaged").mkdir()
    damaged = load_config(_config(tmp_path / "damaged"))
    damaged.metadata_path.parent.mkdir(parents=True)
    _store(damaged.metadata_path, 40)
    with sqlite3.connect(damaged.metadata_path) as connection:
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ExecutionProperty'").fetchone()
        (size,) = connection.execute("PRAGMA page_size").fetchone()
    check_store(damaged)
    with open(damaged.metadata_path, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\0" * size)
    with pytest.raises(StoreError, match=r"cannot be read \((it is damaged|database disk)"):
        check_store(damaged)


def test_an_empty_store_beside_an_empty_pipeline_root_is_a_fresh_start(tmp_path):
    config = load_config(_config(tmp_path))
    config.metadata_path.parent.mkdir(parents=True)
    config.metadata_path.write_bytes(b"")
    check_store(config)  # read-only callers leave it
    assert config.metadata_path.exists()
    check_store(config, locked=True)
    assert not config.metadata_path.exists()


def test_doctor_on_a_root_no_run_has_written_says_there_is_no_store_yet(tmp_path, capsys):
    from pipeline.cli import main

    config = _config(tmp_path)
    assert main(["doctor", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("store: none yet (no run has recorded anything under "), out
    assert "matches" not in out and "nothing left by killed runs" in out


def test_what_a_killed_run_left_is_found_then_cleared(tmp_path):
    config = load_config(_config(tmp_path))
    config.pipeline_dir.mkdir(parents=True)
    _store(config.metadata_path, 2)
    temp = [config.model_dir / ".tmp-0123", config.runs_dir / "r" / ".summary.json.x.tmp",
            config.pipeline_root / "Trainer" / ".system" / "executor_execution" / "2" / ".temp",
            config.output_root / ".beam-packages" / ".tmp-x1y2",
            config.output_root / ".preflight-cache" / ".0a1b.json.x.tmp"]
    for path in temp:
        path.mkdir(parents=True) if not path.name.endswith(".tmp") else (
            path.parent.mkdir(parents=True), path.write_text("{"))
    (config.model_dir / "1").mkdir()  # a finished version stays
    debris = find_debris(config)
    assert [(s.execution_id, s.node, s.state) for s in debris.stale] == [
        (1, "Trainer", "RUNNING"), (2, "Trainer", "RUNNING")]
    assert sorted(debris.temp_paths) == sorted(temp)
    clear_debris(config, debris, by="a test")
    store = open_store(config.metadata_path)
    states = [e.last_known_state for e in store.get_executions()]
    assert states == [metadata_store_pb2.Execution.FAILED] * 2
    assert "a test" in store.get_executions()[0].custom_properties["tfxpipe_note"].string_value
    assert not any(p.exists() for p in temp) and (config.model_dir / "1").is_dir()
    assert not find_debris(config)


def test_a_full_disk_a_read_only_file_system_and_a_permission_are_named_with_the_path(tmp_path):
    try:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/model/variables")
        except OSError as error:
            raise RuntimeError("Trainer failed") from error
    except RuntimeError as error:
        assert one_line(error).startswith("the disk is full (/out/model/variables)")
    text = RuntimeError("tensorflow.python.framework.errors_impl.ResourceExhaustedError: "
                        "/out/x/tmp; Read-only file system")
    assert one_line(text).startswith("the file system is read-only (")
    log = tmp_path / "run.log"
    log.write_text("INFO ok\nOSError: [Errno 13] Permission denied: '/out/eval'\nexit\n")
    died = RuntimeError("the worker process ended unexpectedly while running Evaluator")
    assert one_line(died, log).startswith("permission denied (OSError: [Errno 13]")
    assert one_line(died) == ("RuntimeError: the worker process ended unexpectedly while "
                              "running Evaluator")


def test_a_version_renamed_into_place_but_not_recorded_is_recorded_from_its_manifest(tmp_path):
    """Killed between the rename of version 1 and the record of its push: the next run records
    it as the output of that run's pusher execution, which it marks COMPLETE."""
    config = load_config(_config(tmp_path))
    config.pipeline_dir.mkdir(parents=True)
    store = _store(config.metadata_path, 0)
    store.put_artifact_type(metadata_store_pb2.ArtifactType(name="PushedModel"))
    kind = store.put_execution_type(metadata_store_pb2.ExecutionType(name="VersionedPusher"))
    node = store.put_contexts([metadata_store_pb2.Context(
        type_id=store.get_context_type("node").id, name="p.VersionedPusher")])[0]
    run = store.get_context_by_type_and_name("pipeline_run", "20261130T000000000000Z").id
    [pusher] = store.put_executions([metadata_store_pb2.Execution(
        type_id=kind, last_known_state=metadata_store_pb2.Execution.RUNNING)])
    store.put_attributions_and_associations([], [
        metadata_store_pb2.Association(context_id=c, execution_id=pusher) for c in (node, run)])
    (config.model_dir / "1").mkdir(parents=True)
    (config.model_dir / "1" / "manifest.json").write_text(
        '{"version": 1, "pipeline_run_id": "20261130T000000000000Z"}')
    (config.model_dir / "2").mkdir()  # a version of a run the store never knew: left alone
    (config.model_dir / "2" / "manifest.json").write_text('{"pipeline_run_id": "elsewhere"}')

    debris = find_debris(config)
    assert [v for v, _ in debris.unrecorded] == [1] and len(debris.stale) == 1
    clear_debris(config, debris, by="a test")
    store = open_store(config.metadata_path)
    [execution] = store.get_executions_by_id([pusher])
    assert execution.last_known_state == metadata_store_pb2.Execution.COMPLETE
    [pushed] = store.get_artifacts_by_type("PushedModel")
    assert pushed.custom_properties["pushed_version"].string_value == "1"
    assert pushed.custom_properties["pushed_destination"].string_value.endswith("/p/1")
    [event] = store.get_events_by_artifact_ids([pushed.id])
    assert (event.execution_id, event.type) == (pusher, metadata_store_pb2.Event.OUTPUT)
    assert not find_debris(config)


def test_a_rollback_killed_after_its_rename_is_recorded_and_revokes_as_it_would_have(tmp_path):
    """Killed between the rename of its version and its record, a rollback served v1 again as v3
    while v2's blessing stood: the next run was judged against v2, the model rolled back from,
    and neither doctor nor the next run said a thing."""
    config = load_config(_config(tmp_path))
    config.pipeline_dir.mkdir(parents=True)
    store = _store(config.metadata_path, 0)
    pushed = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="PushedModel"))
    blessing_type = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="ModelBlessing"))
    blessing = metadata_store_pb2.Artifact(type_id=blessing_type)
    blessing.custom_properties["blessed"].int_value = 1
    [blessing_id] = store.put_artifacts([blessing])
    for version in (1, 2):
        record = metadata_store_pb2.Artifact(type_id=pushed)
        record.custom_properties["pushed"].int_value = 1
        record.custom_properties["pushed_version"].string_value = str(version)
        record.custom_properties["pushed_destination"].string_value = str(
            config.model_dir / str(version))
        store.put_artifacts([record])
        (config.model_dir / str(version)).mkdir(parents=True)
        (config.model_dir / str(version) / "manifest.json").write_text(json.dumps(
            {"version": version, "blessing": {"id": blessing_id if version == 2 else None}}))
    (config.model_dir / "3").mkdir()
    (config.model_dir / "3" / "manifest.json").write_text(json.dumps(
        {"version": 3, "rollback": {"of_version": 1, "from_version": 2, "reason": "v2 is off",
                                    "at": "2026-12-02T00:00:00+00:00"}}))

    debris = find_debris(config)
    assert [v for v, _ in debris.rollbacks] == [3] and "a rollback to v1" in debris.lines()[0]
    clear_debris(config, debris, by="a test")
    assert debris.cleared_text() == "1 rollback(s) recorded from their manifest"
    store = open_store(config.metadata_path)
    [revoked] = store.get_artifacts_by_id([blessing_id])
    assert revoked.custom_properties["blessed"].int_value == 0
    assert "rollback to v1" in revoked.custom_properties["revoked"].string_value
    [rollback] = store.get_executions_by_type("tfxpipe.Rollback")
    assert rollback.custom_properties["pushed_version"].string_value == "3"
    assert not find_debris(config)


def test_an_artifact_json_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """write_json writes aside and renames: a write that stops half way (a full disk, a kill)
    leaves the previous file as it was, not the half that was written."""
    from components.shared import artifacts

    uri = str(tmp_path / "artifact")
    artifacts.write_json(uri, "record.json", {"passed": True})
    real_open = artifacts.fileio.open

    class HalfWritten:
        def __init__(self, path, mode):
            self._handle = real_open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def write(self, text):
            self._handle.write(text[:len(text) // 2])
            raise OSError(28, "No space left on device")

    with monkeypatch.context() as failing:
        failing.setattr(artifacts.fileio, "open", HalfWritten)
        with pytest.raises(OSError, match="No space left"):
            artifacts.write_json(uri, "record.json", {"passed": False, "note": "x" * 100})
    assert artifacts.read_json(uri, "record.json") == {"passed": True}
    artifacts.write_json(uri, "record.json", {"passed": False})
    assert artifacts.read_json(uri, "record.json") == {"passed": False}
    assert sorted(p.name for p in (tmp_path / "artifact").iterdir()
                  if not p.name.startswith(".")) == ["record.json"]


def test_a_job_servers_java_trace_is_summed_up_by_what_went_wrong_not_its_last_frame():
    error = RuntimeError(
        "Pipeline BeamApp-1 failed in state FAILED: org.apache.spark.SparkException: Only one "
        "SparkContext should be running in this JVM.\n"
        "org.apache.spark.api.java.JavaSparkContext.<init>(JavaSparkContext.scala:58)\n"
        "\tat org.apache.beam.runners.spark.SparkPipelineRunner.run(SparkPipelineRunner.java:1)"
        "\nCaused by: java.io.IOException: Insufficient number of network buffers\n"
        "\tat sun.nio.ch.Net.bind0(Native Method)\n\t... 12 more\n"
        "java.base/java.lang.Thread.run(Thread.java:840)")
    assert one_line(error) == ("RuntimeError: Caused by: java.io.IOException: Insufficient "
                               "number of network buffers")
    assert one_line(ValueError("a\nb: the last line")) == "ValueError: b: the last line"


def test_a_command_that_only_reads_goes_on_where_its_log_cannot_be_written(tmp_path, capfd):
    from pipeline.process import redirected_output

    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    with pytest.raises(OSError):
        with redirected_output(blocked / "run.log", verbose=False):
            pass
    with redirected_output(blocked / "lineage.log", verbose=False, required=False) as terminal:
        os.write(1, b"TensorFlow's noise\n")  # as its C++ logging writes, to fd 1
        terminal.line("what the user asked for")
    out = capfd.readouterr().out
    assert out == "what the user asked for\n"
