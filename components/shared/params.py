"""How a component's Python-valued parameters travel: as sorted JSON text.

TFX execution properties are strings, numbers or protos, and they are part of the cache key. A
component takes plain Python values and typed parameter objects (frozen dataclasses of such
values), as TFX's own components take `custom_config` as a dict, and serialises them itself
with `encode`; its executor reads them back with `decode`. Sorted keys keep the text, and so
the cache key, the same for the same values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: Any) -> str:
    """A dataclass instance, dict, list or scalar as sorted JSON text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, sort_keys=True)


def decode(text: str | None, kind: type[T] | None = None, default: Any = None) -> Any:
    """The value `encode` wrote; an instance of the dataclass `kind` when given, its nested
    dataclasses and tuples rebuilt from their annotations. `default` when the property is unset.
    """
    if not text:
        return default
    value = json.loads(text)
    return value if kind is None else _convert(kind, value)


def _convert(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        fields = {f.name for f in dataclasses.fields(hint)}
        unknown = sorted(set(value) - fields)
        if unknown:
            raise ValueError(f"{hint.__name__} has no parameter {', '.join(unknown)}")
        hints = typing.get_type_hints(hint)
        return hint(**{name: _convert(hints[name], v) for name, v in value.items()})
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and isinstance(value, list):
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in value)
    if origin in (typing.Union, types.UnionType) and value is not None:
        return _convert(next(a for a in args if a is not type(None)), value)
    return value


SHARED_DIR = Path(__file__).resolve().parent


def component_fingerprint(component_file: str | Path, *more: str | Path) -> str:
    """`code_fingerprint` of a component's folder, of these shared helpers and of `more`
    folders (its user module's): what its executor's behaviour depends on."""
    return code_fingerprint(Path(component_file).resolve().parent, SHARED_DIR, *more)


def code_fingerprint(*folders: str | Path) -> str:
    """A short hash of the Python sources in `folders` (tests excluded).

    TFX does not fingerprint an executor's or a user module's code; a component passes this
    as a parameter so that editing that code is a new input, not a cache hit.
    """
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).glob("*.py")):
            if not path.name.endswith("_test.py"):
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
