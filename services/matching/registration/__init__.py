"""Attendees register for a day (ranked themes, tools, interests); organisers list, import and export them."""
