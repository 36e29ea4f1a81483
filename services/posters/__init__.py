"""Posters service: projects, poster files, previews, text extraction and full-text search."""

from services.posters.app import create_app

__all__ = ["create_app"]
