"""The person's calendar: one entry per booked chat, breakout and coffee, the .ics texts and the private feed."""
