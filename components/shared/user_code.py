"""User code a component calls, found the way TFX finds a Trainer's or Transform's.

A component that needs functions of the user's model code takes the module's import path
(`module_path`) or a Python file (`module_file`) as an execution property, TFX's two ways, and
its executor loads each function by name with TFX's own `udf_utils.get_fn`. The component also
records a fingerprint of the module's folder, so that editing the user code is a new input
rather than a cache hit (TFX fingerprints neither).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from tfx.components.util import udf_utils

from components.shared.params import component_fingerprint

MODULE_PATH_KEY = "module_path"
MODULE_FILE_KEY = "module_file"


def module_properties(module_path: str | None = None, module_file: str | None = None
                      ) -> dict[str, str | None]:
    """The execution properties that name the user module: exactly one of the two."""
    if bool(module_path) == bool(module_file):
        raise ValueError("give the user module as exactly one of module_path (an import path) "
                         "or module_file (a .py file)")
    return {MODULE_PATH_KEY: module_path or None, MODULE_FILE_KEY: module_file or None}


def module_folder(module_path: str | None = None, module_file: str | None = None) -> Path:
    """The folder holding the user module (its sibling modules are part of its code)."""
    if module_file:
        return Path(module_file).resolve().parent
    spec = importlib.util.find_spec(str(module_path))
    if spec is None or spec.origin is None:
        raise ValueError(f"user module '{module_path}' cannot be imported from this environment")
    return Path(spec.origin).resolve().parent


def user_code_fingerprint(component_file: str | Path, module_path: str | None = None,
                          module_file: str | None = None) -> str:
    """A component's own code and its user module's folder, as one short hash."""
    return component_fingerprint(component_file, module_folder(module_path, module_file))


def load(exec_properties: dict[str, Any], name: str) -> Any:
    """The user function `name` of the module the execution properties name."""
    return udf_utils.get_fn(exec_properties, name)
