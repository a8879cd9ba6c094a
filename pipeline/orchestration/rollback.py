"""`tfxpipe rollback --to N`: serve version N again, as a new version.

TensorFlow Serving serves the highest version number, so a rollback publishes a copy of version
N under the next number (assembled aside and renamed, as every push is), with N's manifest plus
a `rollback` section: of which version, from which served one, when, why. ML Metadata records it
as a PushedModel (`rollback_of` = N, the reason), the output of a `tfxpipe.Rollback` execution
whose input is version N's PushedModel. The blessings of the models served after N are revoked
(`blessed` = 0, with the reason), so the next run is judged against the model served again, not
against the one rolled back. The rollback is listed by `tfxpipe runs` with its own summary.

Runs with the output root's lock held (`lock.py`).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from components.versioned_pusher.versions import existing_versions, read_manifest
from pipeline.config import Config, ConfigError
from pipeline.orchestration.cleanup import event_for, pushed_model_record
from pipeline.records.mlmd import custom_property, open_store
from pipeline.records.outcomes import write_summary

ROLLBACK_TYPE = "tfxpipe.Rollback"


def rollback(config: Config, to: int, reason: str, run_id: str) -> tuple[int, dict[str, Any]]:
    """Publishes version `to` again as the next version; (new version, its manifest)."""
    from components.versioned_pusher.publish import publish  # loads TFX's file utilities

    model_dir = str(config.model_dir)
    served, source = existing_versions(model_dir), checked_source(config, to, reason)
    section = {"of_version": to, "from_version": served[-1], "reason": reason,
               "run_id": run_id, "at": datetime.datetime.now(datetime.timezone.utc).isoformat()}

    def manifest_for(version: int) -> dict[str, Any]:
        return {**source, "version": version, "pushed_at": section["at"], "rollback": section}

    version, folder = publish(model_dir, str(config.model_dir / str(to)), None, manifest_for)
    manifest = manifest_for(version)
    _record(config, manifest, Path(folder))
    write_summary(config.runs_dir / run_id, {
        "run_id": run_id, "pipeline": config.pipeline.name, "config": config.config_path,
        "components": [], "outcome": f"rollback to v{to}", "exit_code": 0, "pushed": True,
        "pushed_version": version, "rollback": section})
    return version, manifest


def checked_source(config: Config, to: int, reason: str) -> dict[str, Any]:
    """The manifest of version `to` when it can be served again by a rollback giving `reason`;
    ConfigError (one line) else. Asked before the rollback opens its log: a refused rollback
    leaves nothing, not a run without a summary."""
    if not reason.strip():
        raise ConfigError("--reason must say why the version is rolled back (it is kept in the "
                          "manifest and ML Metadata)")
    model_dir = str(config.model_dir)
    served = existing_versions(model_dir)
    if to not in served:
        raise ConfigError(f"version {to} of '{config.pipeline.model_name}' is not in "
                          f"{config.model_dir} (versions: "
                          f"{', '.join(map(str, served)) or 'none'})")
    source = read_manifest(model_dir, to)
    if source is None:
        raise ConfigError(f"version {to} has no readable manifest.json in "
                          f"{config.model_dir / str(to)}: it cannot be served again by rollback")
    if to == served[-1]:
        raise ConfigError(f"version {to} is already the served version (the highest)")
    return source


def _record(config: Config, manifest: dict[str, Any], folder: Path) -> None:
    """The rollback in ML Metadata, and the revoked blessings (see the module docstring)."""
    section = manifest["rollback"]
    store = open_store(config.metadata_path, writable=True)
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


def rollback_lines(version: int, manifest: dict[str, Any], folder: Path) -> list[str]:
    section = manifest["rollback"]
    return [f"rolled back: version {section['of_version']} is served again as version {version} "
            f"(served before: version {section['from_version']}): {folder}",
            f"  reason: {section['reason']}",
            f"  blessings of the models served after version {section['of_version']} revoked: "
            "the next run is judged against this one"]
