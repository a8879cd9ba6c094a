"""A module-level name of a library bound to another value for the length of one call.

TFX's executors name some helpers directly (Transform's `TransformProcessor`, StatisticsGen's
`tfxio_utils`); an executor that changes one of them without copying TFX's `Do` binds the name
for its call. One lock per name in a process: one call at a time with a name bound, and the
name restored however the call ends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_GUARD = threading.Lock()


@contextlib.contextmanager
def bound(module: ModuleType, name: str, value: Any) -> Iterator[None]:
    """`module.<name>` is `value` inside the block, its own value again after it."""
    with _GUARD:
        lock = _LOCKS.setdefault((module.__name__, name), threading.Lock())
    with lock:
        original = getattr(module, name)
        setattr(module, name, value)
        try:
            yield
        finally:
            setattr(module, name, original)
