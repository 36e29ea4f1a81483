"""Gateway service: web UI, /api/v1 entry point, accounts and roles, sessions, Socket.IO, routing."""

from services.gateway.app import create_app

__all__ = ["create_app"]
