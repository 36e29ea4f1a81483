"""Follow-up after an insight day: each attendee's digest (people met who allow contact, projects viewed, follow-up
actions, the authors' three learnings), the follow-up survey some days later, reminders of open follow-up actions,
and the Q&A and contact notices."""
