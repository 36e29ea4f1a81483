"""Project Q&A: attendees ask (optionally anonymous to other attendees), upvote; the project's author answers.
Also the first view of a project per person (`ProjectViewed`)."""
