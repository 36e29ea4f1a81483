"""Random coffee rounds: an organiser opens a round on a day (a coffee slot's time, or a time of their own) with a
minimum share of cross-organisation pairs; attendees opt in; a pairing run puts them in pairs (one trio for an odd
number) that prefer other organisations and people not met before and never repeat a pair within the day; each
person accepts or declines, and declining frees both for a rematch.

The pairing compares organisations as given at registration (matching's copy of people), also for people who hide
their organisation in their profile: it is used to mix organisations, never shown. What a partner sees of the other
is their profile card, redacted as in the people directory."""
