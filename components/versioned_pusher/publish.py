"""Publishing a version atomically: assembled aside, then renamed to the next free number.

TensorFlow Serving watches `<serving_dir>/<model_name>/` and loads the highest integer-named
directory, so a version must never be visible half-copied: it is assembled in a dot-named temp
directory (which Serving ignores) and renamed into place in one step.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from absl import logging
from tfx.utils import io_utils

from components.shared.files import to_json, write_atomically
from components.versioned_pusher.versions import (
    MANIFEST_FILE,
    SCHEMA_FILE,
    TEMP_PREFIX,
    issued_file,
    last_issued,
    next_version,
)

_MAX_RENAME_ATTEMPTS = 100
# What rename(2) reports when the target name is already taken (by a dir or a file).
_TAKEN = {errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR}


def publish(model_dir: str, model_path: str, schema_file: str | None,
            manifest_for: Callable[[int], dict[str, Any]],
            extras: Sequence[tuple[str, str]] = ()) -> tuple[int, str]:
    """Copy model, schema and manifest aside, then rename to the next free version number.

    `manifest_for(version)` returns the manifest dict; it is rewritten when a concurrent pusher
    takes the number first, so the recorded version always matches the directory name. A taken
    name makes rename(2) fail, except an *empty* directory, which it replaces: harmless, as
    next_version counts empty integer directories, so only one made in that instant is at risk.
    `extras` are (source file or folder, path inside the version) copied aside with the model,
    so they appear with the version or not at all.
    """
    os.makedirs(model_dir, exist_ok=True)
    temp_dir = os.path.join(model_dir, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
    try:
        io_utils.copy_dir(model_path, temp_dir)
        if schema_file:
            io_utils.copy_file(schema_file, os.path.join(temp_dir, SCHEMA_FILE))
        for source, relative in extras:
            target = os.path.join(temp_dir, relative)
            if os.path.isdir(source):
                io_utils.copy_dir(source, target)
            else:
                io_utils.copy_file(source, target)
        version = next_version(model_dir)
        for _ in range(_MAX_RENAME_ATTEMPTS):
            target = os.path.join(model_dir, str(version))
            io_utils.write_string_file(os.path.join(temp_dir, MANIFEST_FILE),
                                       to_json(manifest_for(version)))
            try:
                os.rename(temp_dir, target)
            except OSError as error:
                if error.errno not in _TAKEN:
                    raise
                logging.info("Version %d was taken concurrently; trying the next.", version)
                version = max(version + 1, next_version(model_dir))
                continue
            _issue(model_dir, version)
            return version, target
        raise RuntimeError(f"No free version number in {model_dir} after "
                           f"{_MAX_RENAME_ATTEMPTS} attempts")
    finally:
        # After a successful rename the temp name no longer exists; otherwise nothing is left.
        shutil.rmtree(temp_dir, ignore_errors=True)


def _issue(model_dir: str, version: int) -> None:
    """Records `version` as issued once it is in place (written aside and renamed). A push
    killed before its rename leaves no gap in the numbers; one killed between the rename and
    this leaves the version on disk, which next_version counts. The record only guards against
    a version deleted by hand: when it cannot be written the push stands, with a warning."""
    if last_issued(model_dir) >= version:
        return
    try:
        write_atomically(issued_file(model_dir), f"{version}\n")
    except OSError as error:
        logging.warning("Version %d is pushed, but %s could not be written (%s): a version "
                        "deleted by hand may give its number again", version,
                        issued_file(model_dir), error)
