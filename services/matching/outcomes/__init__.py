"""The organiser's outcome report: what the day achieved (funnel, networking, new voices, follow-up), with every
cell counting fewer than 5 people suppressed so no one can be re-identified."""
