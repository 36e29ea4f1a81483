"""A day's set-up by its organisers: thesaurus of themes, registration deadline, slots, themed breakouts."""
