"""VersionedPusher: a blessed model as the next integer version, with its manifest.

The component loads on first use (`from components.versioned_pusher import VersionedPusher`),
so `versions.py`, which readers of the serving folder import, costs no TensorFlow. Imports
`components.shared`.
"""

import importlib

from components.versioned_pusher.params import Provenance, PushDestination, PushEvidence

_LAZY = {"VersionedPusher": "component", "VersionedPusherSpec": "component"}

__all__ = ["Provenance", "PushDestination", "PushEvidence", "VersionedPusher",
           "VersionedPusherSpec"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
