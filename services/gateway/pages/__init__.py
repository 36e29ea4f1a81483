"""Pages of the matching features (day set-up, registration, assignment, chats, coffee, people): see feature_pages."""
