"""Whether the ML Metadata store can be trusted with the pipeline root it describes.

TFX names an artifact's folder after the execution that wrote it
(`pipeline_root/<component>/<output>/<execution id>/`). A store that is missing, empty, unreadable
or older than those folders would restart execution ids at numbers already used: the next run
would write into (and on failure delete) the folders earlier versions' manifests point to. So a
run, and every command that reads the store, refuses such a store with one line, and nothing is
written. Plain Python (sqlite3): checked before TensorFlow loads.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from pipeline.config import Config


class StoreError(RuntimeError):
    """The store does not match the pipeline root; the message says what happened and what to do."""


def newest_folder_id(pipeline_root: Path) -> int:
    """The highest execution id that names an artifact folder under the pipeline root (0: none)."""
    newest = 0
    for folder in pipeline_root.glob("*/*/*"):
        if folder.name.isdigit() and folder.is_dir():
            newest = max(newest, int(folder.name))
    return newest


def newest_execution_id(metadata_path: Path) -> int:
    """The highest execution id the store knows (0: none); raises sqlite3.Error when unreadable
    or damaged (SQLite's quick_check: a page overwritten in place reads, until a write hits
    it)."""
    with _read_only(metadata_path) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "Execution" not in tables:
            raise sqlite3.DatabaseError("it holds no ML Metadata tables")
        problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"it is damaged: {'; '.join(problems)}")
        (newest,) = connection.execute("SELECT max(id) FROM Execution").fetchone()
    return newest or 0


def foreign_artifact(metadata_path: Path, pipeline_dir: Path) -> str | None:
    """The folder of one of the store's newest artifacts that lies outside `pipeline_dir`
    (where every artifact of this project lies: pipeline root and serving), else None."""
    with _read_only(metadata_path) as connection:
        uris = [row[0] for row in connection.execute(
            "SELECT uri FROM Artifact WHERE uri != '' ORDER BY id DESC LIMIT 20")]
    home = os.path.realpath(pipeline_dir) + os.sep
    return next((uri for uri in uris
                 if "://" not in uri and not os.path.realpath(uri).startswith(home)), None)


def _read_only(metadata_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{metadata_path}?mode=ro", uri=True, timeout=30)


def check_store(config: Config, locked: bool = False) -> None:
    """Raises StoreError when the store cannot be trusted with the pipeline root (see above).

    An empty store file beside an empty pipeline root is a store never written (or one a run is
    creating now); with the lock held (`locked`) it is removed.
    """
    path, root = config.metadata_path, config.pipeline_root
    on_disk = newest_folder_id(root)
    remedy = (f"restore {path.name} from a backup, or move {config.pipeline_dir} aside to start "
              "a new history; nothing was changed")
    if not path.exists() or path.stat().st_size == 0:
        if not on_disk:
            if locked:
                path.unlink(missing_ok=True)
            return
        state = "missing" if not path.exists() else "empty (0 bytes)"
        raise StoreError(f"the ML Metadata store {path} is {state}, but {root} holds the "
                         f"artifacts of earlier runs (up to execution {on_disk}): {remedy}")
    try:
        known = newest_execution_id(path)
        foreign = foreign_artifact(path, config.pipeline_dir)
    except sqlite3.Error as error:
        raise StoreError(f"the ML Metadata store {path} cannot be read ({error}): "
                         f"{remedy}") from None
    if foreign is not None:
        raise StoreError(f"the ML Metadata store {path} records artifacts outside "
                         f"{config.pipeline_dir} (e.g. {foreign}): it is another output root's "
                         f"store (copied, or the root moved); {remedy}")
    if on_disk > known:
        raise StoreError(f"the ML Metadata store {path} knows executions up to {known}, but "
                         f"{root} holds artifacts of execution {on_disk}: the store is older "
                         f"than the artifacts (restored or replaced?); {remedy}")
