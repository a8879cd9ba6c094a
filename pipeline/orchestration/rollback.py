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

from components.versioned_pusher.versions import existing_versions, read_manifest
from pipeline.config import Config, ConfigError
from pipeline.orchestration.cleanup import record_rollback
from pipeline.records.mlmd import open_store
from pipeline.records.outcomes import write_summary


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
    record_rollback(open_store(config.metadata_path, writable=True), config, manifest,
                    Path(folder))
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


def rollback_lines(version: int, manifest: dict[str, Any], folder: Path) -> list[str]:
    section = manifest["rollback"]
    return [f"rolled back: version {section['of_version']} is served again as version {version} "
            f"(served before: version {section['from_version']}): {folder}",
            f"  reason: {section['reason']}",
            f"  blessings of the models served after version {section['of_version']} revoked: "
            "the next run is judged against this one"]
