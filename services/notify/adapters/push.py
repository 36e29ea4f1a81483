"""Live pushes to browsers (the emitter now lives in shared.push, which matching uses too)."""

from shared.push import NAMESPACE, Pusher, user_room

__all__ = ["NAMESPACE", "Pusher", "user_room"]
