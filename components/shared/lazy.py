"""A package's heavy names, imported on first use (PEP 562), so that its light modules cost
nothing to import: `__getattr__ = lazy_attributes(__name__, {"Name": "module"})`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<module>` for each of `names`."""
    def __getattr__(name: str) -> Any:  # noqa: N807
        if name in names:
            return getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    return __getattr__
