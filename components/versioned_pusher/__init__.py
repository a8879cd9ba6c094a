"""VersionedPusher: a blessed model as the next integer version, with its manifest.

The component loads on first use (`from components.versioned_pusher import VersionedPusher`),
so `versions.py`, which readers of the serving folder import, costs no TensorFlow. Imports
`components.shared`.
"""

from components.shared.lazy import lazy_attributes
from components.versioned_pusher.params import Provenance, PushDestination, PushEvidence

__all__ = ["Provenance", "PushDestination", "PushEvidence", "VersionedPusher",
           "VersionedPusherSpec"]

__getattr__ = lazy_attributes(__name__, {"VersionedPusher": "component",
                                         "VersionedPusherSpec": "component"})
