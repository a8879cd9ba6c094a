"""Loading a config: TOML text -> the section dataclasses, type-checked, with absolute paths.

Every mistake is a `ConfigError` whose message is one line that says what to fix: an unknown
key (with the closest known one), a wrong type, a missing required key, then the checks of
values (`checks.py`). The sections are found from `Config`'s field types: nothing lists them
twice. Relative paths are resolved against the project root (the nearest folder above the
config file that holds a pyproject.toml), so outputs land inside the project whatever the
working directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any

import tomli

from pipeline.config.checks import validate
from pipeline.config.errors import ConfigError
from pipeline.config.sections import (
    LOADER_FIELDS,
    TFX_TAXI_SOURCE,
    Config,
    SchemaSection,
)


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding a pyproject.toml, else the working dir."""
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path.cwd()


def load_config(path: str | os.PathLike[str], output_root: str | None = None) -> Config:
    """Parses and validates a TOML config; raises ConfigError with one precise line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path} (pass --config with an existing .toml)")
    try:
        raw = tomli.loads(path.read_text(encoding="utf-8"))
    except (tomli.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    root = find_project_root(path.resolve().parent)
    config = _build(Config, raw, prefix="", where=path.name)
    config = _resolve(config, path.resolve(), root, output_root)
    validate(config, where=path.name)
    return config


def _build(cls: type, raw: Any, prefix: str, where: str) -> Any:
    """An instance of the dataclass `cls` from a TOML table, every field type-checked."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{prefix.rstrip('.')}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.name not in LOADER_FIELDS}
    for key in raw:
        if key not in known:
            hint = difflib.get_close_matches(key, list(known), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'{tip}")
    values = {}
    for name, spec in known.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key '{key}'")
            continue
        values[name] = _coerce(hints[name], raw[name], key, where)
    return cls(**values)


_EXPECTED = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _coerce(hint: Any, value: Any, key: str, where: str) -> Any:
    """`value` checked against the type annotation `hint` (and a float made of an integer)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{key}.", where)
    if origin is list:
        inner = args[0]
        if not isinstance(value, list):
            raise _wrong(value, f"a list of {_name(inner)}", key, where)
        return [_coerce(inner, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(value, "a table", key, where)
        return {k: _coerce(args[1], v, f"{key}.{k}", where) for k, v in value.items()}
    if hint in _EXPECTED:
        # TOML's booleans are not numbers here, though Python's bool is an int.
        ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise _wrong(value, _EXPECTED[hint], key, where)
        return value
    raise AssertionError(f"unsupported config type {hint}")  # a bug in sections.py


def _name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return f"lists of {_name(typing.get_args(hint)[0])}"
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _wrong(value: Any, expected: str, key: str, where: str) -> ConfigError:
    shown = f"'{value}'" if isinstance(value, str) else repr(value)
    return ConfigError(f"{where}: '{key}' must be {expected}, got {type(value).__name__} {shown}")


def _resolve(config: Config, config_path: Path, root: Path, output_root: str | None) -> Config:
    """Makes every path absolute (relative ones are under the project root)."""
    def absolute(value: str) -> str:
        return str((root / value).resolve()) if value and not os.path.isabs(value) else value

    pipeline = dataclasses.replace(
        config.pipeline,
        model_name=config.pipeline.model_name or config.pipeline.name,
        output_root=str(Path(output_root).resolve()) if output_root
        else absolute(config.pipeline.output_root),
    )
    source = config.data.source
    data_dir = config.data.dir
    if source != TFX_TAXI_SOURCE:
        source = absolute(source)
        data_dir = data_dir or (source if os.path.isdir(source) else os.path.dirname(source))
    data_dir = absolute(data_dir or f"data/materialized/{config.pipeline.name}")
    data = dataclasses.replace(config.data, source=source, dir=data_dir)
    schema_path = config.schema.path
    if not schema_path and (root / "schemas" / config.pipeline.name / "schema.pbtxt").is_file():
        schema_path = f"schemas/{config.pipeline.name}/schema.pbtxt"
    return dataclasses.replace(
        config, pipeline=pipeline, data=data, schema=SchemaSection(path=absolute(schema_path)),
        config_path=str(config_path), project_root=str(root))
