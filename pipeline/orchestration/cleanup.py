"""What a run that was killed leaves behind, found and cleared by the next run or `tfxpipe doctor`.

A process killed mid-run (kill -9, a lost machine) leaves:
- executions RUNNING (or NEW) in ML Metadata forever: TFX records the end of an execution only
  when its launcher gets to. Under the output root's lock no run is in progress, so every such
  execution is stale and is marked FAILED, with a note saying so;
- folders and files being written: a version being assembled in the serving folder (`.tmp-*`),
  TFX's executor temp folders (`.system/executor_execution/<id>/.temp`), the Beam workers'
  packages being built (`.beam-packages/.tmp-*`), files being written aside
  (`.<name>.<random>.tmp`, pre-flight findings among them). None is visible to a reader (TF
  Serving ignores dot-named folders); all are removed;
- a version renamed into place whose push was not yet recorded in ML Metadata: it is recorded
  from its manifest (a PushedModel output of that run's pusher execution, which is marked
  COMPLETE), so lineage and the baseline resolver see it.
- a rollback's version renamed into place, not yet recorded: recorded from its manifest as
  `tfxpipe rollback` records it, the blessings it revokes revoked (else the next run is judged
  against the model rolled back from).

Only ever called with the lock held (`lock.py`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from components.versioned_pusher.versions import TEMP_PREFIX, existing_versions, read_manifest
from pipeline.config import Config
from pipeline.dag.beam import PACKAGES_DIR
from pipeline.inputs import checked_files
from pipeline.records.mlmd import STATE_NAMES, custom_property, open_store

Execution = metadata_store_pb2.Execution
_UNFINISHED = (Execution.RUNNING, Execution.NEW)
NOTE = "tfxpipe_note"
ROLLBACK_TYPE = "tfxpipe.Rollback"


@dataclass
class Stale:
    execution_id: int
    node: str
    run_id: str
    state: str


@dataclass
class Debris:
    """What a killed run left; `lines()` says it in words, `bool()` whether there is any."""
    stale: list[Stale] = field(default_factory=list)
    temp_paths: list[Path] = field(default_factory=list)
    unrecorded: list[tuple[int, dict]] = field(default_factory=list)  # (version, manifest)
    rollbacks: list[tuple[int, dict]] = field(default_factory=list)  # the same, of rollbacks

    def __bool__(self) -> bool:
        return bool(self.stale or self.temp_paths or self.unrecorded or self.rollbacks)

    def lines(self) -> list[str]:
        lines = [f"execution {s.execution_id} ({s.node} of run {s.run_id}) is still {s.state}, "
                 "but no run is in progress" for s in self.stale]
        lines += [f"left over: {path}" for path in self.temp_paths]
        lines += [f"version {version} is in the serving folder but ML Metadata has no record of "
                  f"its push (run {manifest.get('pipeline_run_id')})"
                  for version, manifest in self.unrecorded]
        lines += [f"version {version} (a rollback to v{manifest['rollback'].get('of_version')}) "
                  "is in the serving folder but ML Metadata has no record of it: the blessings "
                  "it revokes are not revoked" for version, manifest in self.rollbacks]
        return lines

    def cleared_text(self) -> str:
        """What `clear_debris` did with it, in one line."""
        parts = [(len(self.stale), "unfinished execution(s) marked failed"),
                 (len(self.temp_paths), "temporary folder(s) or file(s) removed"),
                 (len(self.unrecorded), "pushed version(s) recorded from their manifest"),
                 (len(self.rollbacks), "rollback(s) recorded from their manifest")]
        return ", ".join(f"{count} {what}" for count, what in parts if count)


def find_debris(config: Config) -> Debris:
    """Everything a killed run left (nothing is changed)."""
    debris = Debris(temp_paths=_temp_paths(config))
    if not config.metadata_path.is_file():
        return debris
    store = open_store(config.metadata_path)
    debris.stale = [_describe(store, e, config.pipeline.name)
                    for e in store.get_executions() if e.last_known_state in _UNFINISHED]
    # By model name and version: an output root copied or moved elsewhere keeps its records.
    recorded = {(Path(str(custom_property(a, "pushed_destination"))).parent.name,
                 str(custom_property(a, "pushed_version")))
                for a in store.get_artifacts_by_type("PushedModel")
                if custom_property(a, "pushed") == 1 and not custom_property(a, "already_served")}
    for version in existing_versions(str(config.model_dir)):
        manifest = read_manifest(str(config.model_dir), version) or {}
        run = manifest.get("pipeline_run_id")
        if (config.pipeline.model_name, str(version)) in recorded:
            continue
        if manifest.get("rollback"):  # killed between its rename and its record
            debris.rollbacks.append((version, manifest))
        elif run and store.get_context_by_type_and_name("pipeline_run", str(run)) is not None:
            debris.unrecorded.append((version, manifest))  # its run is known: it can be
    return debris


def clear_debris(config: Config, debris: Debris, by: str) -> None:
    """Removes the temp paths, records unrecorded pushes, marks stale executions FAILED."""
    for path in debris.temp_paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not (debris.stale or debris.unrecorded or debris.rollbacks):
        return
    store = open_store(config.metadata_path, writable=True)
    completed = {_reconcile(store, config, version, manifest, by)
                 for version, manifest in debris.unrecorded}
    for version, manifest in debris.rollbacks:
        record_rollback(store, config, manifest, config.model_dir / str(version))
    stale = [s.execution_id for s in debris.stale if s.execution_id not in completed]
    for execution in store.get_executions_by_id(stale):
        execution.custom_properties[NOTE].string_value = (
            f"marked failed by {by}: its run's process had ended while it was "
            f"{STATE_NAMES(execution.last_known_state)}")
        execution.last_known_state = Execution.FAILED
        store.put_executions([execution])


def _reconcile(store, config: Config, version: int, manifest: dict, by: str) -> int | None:
    """Records version `version` as the PushedModel output of the pusher execution of the run
    its manifest names; that execution's id, or None when the store has no such execution."""
    run = store.get_context_by_type_and_name("pipeline_run",
                                              str(manifest.get("pipeline_run_id")))
    if run is None:
        return None
    node = f"{config.pipeline.name}.VersionedPusher"
    pushers = [e for e in store.get_executions_by_context(run.id)
               if any(c.name == node for c in store.get_contexts_by_execution(e.id))]
    if not pushers:
        return None
    pusher = max(pushers, key=lambda e: e.id)
    artifact = pushed_model_record(
        store, config.pipeline_root / "VersionedPusher" / "pushed_model" / str(pusher.id),
        version, config.model_dir / str(version))
    pusher.last_known_state = Execution.COMPLETE
    pusher.custom_properties[NOTE].string_value = (
        f"its push of version {version} was recorded from the version's manifest by {by}")
    event = event_for(metadata_store_pb2.Event.OUTPUT, "pushed_model")
    store.put_execution(pusher, [(artifact, event)], store.get_contexts_by_execution(pusher.id))
    return pusher.id


def pushed_model_record(store, uri: Path, version: int, folder: Path
                        ) -> metadata_store_pb2.Artifact:
    """A PushedModel artifact as the VersionedPusher records one: version `version` pushed to
    `folder` (the PushedModel type exists: a pusher ran in this store)."""
    artifact = metadata_store_pb2.Artifact(
        type_id=store.get_artifact_type("PushedModel").id, uri=str(uri),
        state=metadata_store_pb2.Artifact.LIVE)
    for key, value in (("pushed", 1), ("already_served", 0)):
        artifact.custom_properties[key].int_value = value
    for key, value in (("pushed_version", str(version)), ("pushed_destination", str(folder)),
                       ("manifest", str(folder / "manifest.json"))):
        artifact.custom_properties[key].string_value = value
    return artifact


def event_for(kind: int, key: str) -> metadata_store_pb2.Event:
    """An INPUT or OUTPUT event on channel `key`, as TFX records them (the channel, index 0)."""
    event = metadata_store_pb2.Event(type=kind)
    event.path.steps.add().key = key
    event.path.steps.add().index = 0
    return event


def _temp_paths(config: Config) -> list[Path]:
    paths = list(config.model_dir.glob(f"{TEMP_PREFIX}*"))
    paths += config.pipeline_root.glob("*/.system/executor_execution/*/.temp")
    # Files written aside (`write_atomically`) and reports being written.
    for folder, pattern in ((config.output_root, ".*.tmp"), (config.pipeline_dir, "*/.*.tmp"),
                            (config.runs_dir, "*/.*.tmp"),
                            # the workers' packages being built, pre-flight findings being kept
                            (config.output_root / PACKAGES_DIR, ".tmp-*"),
                            (config.output_root / checked_files.FOLDER, ".*.tmp")):
        paths += folder.glob(pattern)
    return sorted(set(paths))


def _describe(store, execution, pipeline_name: str) -> Stale:
    contexts = store.get_contexts_by_execution(execution.id)
    node = next((c.name.split(".", 1)[-1] for c in contexts if c.type == "node"), "?")
    run = next((c.name for c in contexts if c.type == "pipeline_run"), "?")
    return Stale(execution.id, node, run, STATE_NAMES(execution.last_known_state))


def record_rollback(store, config: Config, manifest: dict[str, Any], folder: Path) -> None:
    """The rollback that published `folder` (its manifest: `manifest`) in ML Metadata: a
    PushedModel output of a tfxpipe.Rollback execution whose input is the version served again;
    and the blessings of the versions above that one revoked (`rollback.py`: the next run is
    judged against the model served again)."""
    section = manifest["rollback"]
    previous = [a for a in store.get_artifacts_by_type("PushedModel")
                if custom_property(a, "pushed_version") == str(section["of_version"])
                and custom_property(a, "pushed") == 1]
    kind = store.put_execution_type(metadata_store_pb2.ExecutionType(name=ROLLBACK_TYPE))
    execution = metadata_store_pb2.Execution(
        type_id=kind, last_known_state=metadata_store_pb2.Execution.COMPLETE)
    artifact = pushed_model_record(store, folder, manifest["version"], folder)
    artifact.custom_properties["rollback_of"].int_value = section["of_version"]
    for message in (artifact, execution):
        message.custom_properties["reason"].string_value = section["reason"]
    for key in ("pushed_version", "pushed_destination", "manifest"):
        execution.custom_properties[key].string_value = \
            artifact.custom_properties[key].string_value
    events = [(artifact, event_for(metadata_store_pb2.Event.OUTPUT, "pushed_model"))]
    events += [(a, event_for(metadata_store_pb2.Event.INPUT, "rolled_back_to"))
               for a in previous[-1:]]
    store.put_execution(execution, events, [])
    _revoke_blessings(config, store, section)


def _revoke_blessings(config: Config, store, section: dict[str, Any]) -> None:
    """Blessings of the models of versions above the one served again: revoked, with why."""
    ids = set()
    for version in existing_versions(str(config.model_dir)):
        manifest = read_manifest(str(config.model_dir), version) or {}
        blessing = manifest.get("blessing") or {}
        if version > section["of_version"] and not manifest.get("rollback") and blessing.get("id"):
            ids.add(int(blessing["id"]))
    for blessing in store.get_artifacts_by_id(sorted(ids)):
        blessing.custom_properties["blessed"].int_value = 0
        blessing.custom_properties["revoked"].string_value = (
            f"rollback to v{section['of_version']} at {section['at']}: {section['reason']}")
        store.put_artifacts([blessing])
