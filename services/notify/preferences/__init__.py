"""Preferences: per category and channel on/off or a daily digest, reminder offsets, signed unsubscribe links."""
