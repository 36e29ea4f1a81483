"""Matching service: insight days, slots, breakouts, preferences, assignment, chat slots, coffee."""

from services.matching.app import create_app

__all__ = ["create_app"]
