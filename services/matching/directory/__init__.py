"""Profiles with a visibility per field, the people directory of a day, and contact requests.

Consent rules (the handbook's privacy section):
- each profile field (role, organisation, region, tools, interests, projects, bio) has its own visibility:
  `everyone` (everyone at my events), `organisers` (organisers only) or `nobody`;
- a new profile shows organisation and region to everyone at my events (given at registration) and nothing else;
- every read (directory, filters, contacts, coffee partners) redacts first and looks at the redacted card only,
  so a withdrawn field disappears everywhere with the next request and a filter on a hidden field cannot match;
- a person's display name is shown to people registered for the same day (it is not a profile field);
- e-mail addresses are never shown: people connect through contact requests inside the product.
"""
