"""Author 1-1 chat slots: authors open them on their projects, attendees book, cancel and wait (see service.py)."""
