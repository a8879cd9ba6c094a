"""VersionedPusher: pushes blessed models as integer versions with a manifest."""

from components.versioned_pusher.component import VersionedPusher, VersionedPusherSpec

__all__ = ["VersionedPusher", "VersionedPusherSpec"]
