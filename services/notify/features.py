"""Notify's features, one package each (see `shared.features`): `deliveries` (booking, schedule and coffee mails
with .ics), `calendar` (the private iCal feed), `reminders`, `preferences` (channels, categories, unsubscribe) and
`followup` (digest, survey, follow-up actions). The service root keeps recipients, notifications and the email
rows' life cycle. A feature is picked up by being listed here."""

from __future__ import annotations

from shared.features import FeatureSet

FEATURES = FeatureSet("services.notify", ("deliveries", "calendar", "reminders", "preferences", "followup"))
