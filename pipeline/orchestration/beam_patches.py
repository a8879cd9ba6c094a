"""One measured speed-up of Apache Beam 2.59: DoFn state/timer introspection, memoised per class.

Beam asks `userstate.get_dofn_specs(dofn)` whether a DoFn uses state or timers each time it
builds a ParDo, writes the pipeline proto and sets up a bundle. Each call runs
`inspect.signature` on every method of the DoFn (about 30): in one Transform of the taxi data,
thousands of calls and 150,000 signatures, a fifth of its time (docs/performance.md, "Beam").

The answer depends only on the DoFn's methods and their default arguments, which belong to its
class, except in three cases that are never memoised and go to Beam's own function:
- a method bound on the instance (`self.process = other.method`, as `beam.Map(obj.method)`
  does): its signature is the other method's;
- a bound method whose defaults come from an `_inspect_<name>` hook of the instance;
- a class with `__getattr__`, or an instance without `__dict__`.

`install()` is called by every process that launches pipeline nodes. It does nothing on any
Beam version other than the one this was measured on, so an upgrade drops it rather than
carrying it blind.
"""

from __future__ import annotations

import types
from typing import Any

BEAM_VERSION = "2.59.0"

_inspect_hooks: dict[type, tuple[str, ...]] = {}


def _hooked_methods(cls: type) -> tuple[str, ...]:
    """The method names for which `cls` has an `_inspect_<name>` hook."""
    if cls not in _inspect_hooks:
        _inspect_hooks[cls] = tuple(name[len("_inspect_"):] for name in dir(cls)
                                    if name.startswith("_inspect_"))
    return _inspect_hooks[cls]


def class_key(dofn: Any) -> tuple | None:
    """What `get_dofn_specs(dofn)` depends on, or None when it may depend on the instance."""
    cls = type(dofn)
    if hasattr(cls, "__getattr__"):
        return None
    try:
        attributes = vars(dofn)
    except TypeError:  # no __dict__
        return None
    bound = tuple(sorted((name, value.__func__) for name, value in attributes.items()
                         if isinstance(value, types.MethodType)))
    if bound and any(name in _hooked_methods(cls) for name, _ in bound):
        return None
    return (cls, bound)


def memoized(original):
    """`original` (Beam's get_dofn_specs), answered from a cache of its own where `class_key`
    allows."""
    cache: dict[tuple, tuple[frozenset, frozenset]] = {}

    def get_dofn_specs(dofn):
        key = class_key(dofn)
        if key is None:
            return original(dofn)
        if key not in cache:
            states, timers = original(dofn)  # raises for an invalid DoFn: nothing is cached
            cache[key] = (frozenset(states), frozenset(timers))
        states, timers = cache[key]
        return set(states), set(timers)  # Beam's callers get their own sets, as before

    get_dofn_specs.original = original
    get_dofn_specs.cache = cache
    return get_dofn_specs


def install() -> bool:
    """Memoises `apache_beam.transforms.userstate.get_dofn_specs` in this process (once);
    whether it is installed."""
    import apache_beam
    from apache_beam.transforms import userstate

    if hasattr(userstate.get_dofn_specs, "original"):
        return True
    if apache_beam.__version__ != BEAM_VERSION:
        return False
    # Beam's callers on the batch path (ParDo, DoFnSignature, the FnApiRunner's bundles) look
    # the function up on the module at call time; only the legacy streaming DirectRunner
    # imported it by name, and it keeps the original.
    userstate.get_dofn_specs = memoized(userstate.get_dofn_specs)
    return True
