"""1-1 chat rooms: booked chats (from matching's ChatSlotBooked) and authors' ask-me-anything rooms.

models (tables), domain (pure rules), service (use cases + outbox), api (/api/v1/chat-rooms), sockets
(Socket.IO events on /chat), broadcast (emits through the Redis queue), presence and flood (Redis).
"""
