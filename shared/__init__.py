"""Code the Insight Days services share: config, db, events, bus, outbox, auth."""
