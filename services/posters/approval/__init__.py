"""The organiser switch "authors need approval" of an insight day (see hold.py)."""
