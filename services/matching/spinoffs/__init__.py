"""Suggested spin-off workshops: published projects with similar aims grouped, each proposed as a themed breakout
the organiser can create with one click."""
