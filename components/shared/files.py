"""Writing files so that a reader never sees half of one, and JSON that strict readers accept.

Plain Python (no TensorFlow, no TFX): the pipeline's own records use it as the components do.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomically(path: str | Path, content: str | bytes) -> Path:
    """Writes `content` to a temporary file beside `path`, flushes it to disk, then renames it
    into place (and flushes the folder): a crash leaves the old file or the new one, never a
    part of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)  # the rename itself survives a power cut
    return path


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # a file system without directory handles: the rename is all there is
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def to_json(content: Any) -> str:
    """Stable text (sorted keys, indented) in which NaN and infinities are null."""
    return json.dumps(finite(content), indent=2, sort_keys=True, allow_nan=False,
                      default=str) + "\n"


def finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None and NumPy scalars made plain."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
