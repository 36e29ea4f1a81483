"""Booking, schedule and coffee notifications (mail with .ics, in-app) from matching's events."""
