"""Names and folders the tool writes under: names that are one safe path component, and output
or data roots that are not the operating system's own folders.

Every path the pipeline writes is built from the output root and these names
(`Config.pipeline_dir` and below), so with both checked nothing is written outside the root.
"""

from __future__ import annotations

import os
import re

# One path component: no separator, no leading dot (so never "." or ".."), nothing a shell or
# another file system would read differently.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

# Folders that belong to the operating system: a root may be neither one of them nor inside one.
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
                 "/proc", "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/log")
# Folders that hold other folders: a root may be inside them, never one of them.
_SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var")


def unsafe_name(name: str) -> str | None:
    """Why `name` cannot be a folder name of its own, or None when it can."""
    if _SAFE_NAME.fullmatch(name) is None:
        return ("must be letters, digits, '_', '-' or '.', start with a letter or digit and be "
                "at most 100 characters (it names a folder)")
    return None


def system_folder(path: str) -> str | None:
    """The system folder that `path` is or is inside (resolved, links followed), or None."""
    resolved = os.path.realpath(path)
    for tree in _SYSTEM_TREES:
        if resolved == tree or resolved.startswith(tree + "/"):
            return tree
    if resolved in _SYSTEM_FOLDERS:
        return resolved
    return None

