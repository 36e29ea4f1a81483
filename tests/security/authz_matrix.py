"""Who may call what: every /api/v1 route of every service and every Socket.IO /chat event, per persona.

Keys are (METHOD, Flask rule as the owning service registers it). Each entry has a concrete path (placeholders
filled from tests.security.authz_world.World.ids / user_ids) and the expected outcome per persona, in the order of
PERSONAS: anonymous, attendee, other attendee, author, other author, organiser of another day, organiser.

Outcomes (the status *class* that matters for access control):
  "ok"    got past access control: 2xx/3xx, or a 400/409/422 about the input or the state (bodies here are
          deliberately empty so nothing is changed by an allowed call)
  "gone"  allowed, for a call that deletes: "ok", or 404 once an earlier allowed persona deleted it
  "401"   must sign in
  "403"   signed in, but the role or the relation is wrong
  "404"   signed in, but the thing is not theirs to see (hidden, not a 403 that would confirm it exists)
  "deny"  403 or 404
A 5xx is always a failure. tests/security/test_authz_matrix.py runs every cell and fails on any mismatch and on any
route or event without an entry; `python -m tests.security.print_authz_matrix` prints the table for the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, GONE, DENY = "ok", "gone", "deny"

# Presets, in persona order: anonymous, attendee, other_attendee, author, other_author, other_organiser, organiser.
PUBLIC = (OK,) * 7
SIGNED_IN = ("401",) + (OK,) * 6
ORGANISERS = ("401", "403", "403", "403", "403", OK, OK)
AUTHORS_AND_ORGANISERS = ("401", "403", "403", OK, OK, OK, OK)
# The author's own project (other people are refused; organisers are refused too: they moderate with hide/unhide).
PROJECT_OWNER = ("401", DENY, DENY, OK, DENY, DENY, DENY)
# Organiser of this very day (the one who created it), not any organiser.
DAY_ORGANISER = ("401", "403", "403", "403", "403", "403", OK)
# People registered for the day (the attendee, the other attendee, both authors; organisers are not).
REGISTERED = ("401", OK, OK, OK, OK, "403", "403")
# The 1-1 chat room booked by the attendee with the author: its two participants, and organisers (moderation).
ROOM = ("401", OK, DENY, OK, DENY, OK, OK)


@dataclass(frozen=True)
class Entry:
    path: str
    expect: tuple[str, ...]
    body: Any = None  # JSON body for the call ({} for writes unless given)
    order: int = 0  # higher runs later (deletions, logout)
    fresh_token: bool = False  # the call ends the credential: use a new sign-in for it
    note: str = ""
    files: dict[str, Any] = field(default_factory=dict)


E = "/api/v1/events/{event}"
P = "/api/v1/projects/{project}"

MATRIX: dict[tuple[str, str], Entry] = {
    # --- gateway: accounts -------------------------------------------------------------------------------------
    ("POST", "/api/v1/auth/register"): Entry("/api/v1/auth/register", PUBLIC),
    ("POST", "/api/v1/auth/login"): Entry("/api/v1/auth/login", PUBLIC),
    ("POST", "/api/v1/auth/verify-email"): Entry("/api/v1/auth/verify-email", PUBLIC),
    ("POST", "/api/v1/auth/logout"): Entry("/api/v1/auth/logout", SIGNED_IN, order=10, fresh_token=True),
    ("GET", "/api/v1/me"): Entry("/api/v1/me", SIGNED_IN),
    ("GET", "/api/v1/users"): Entry("/api/v1/users?email=attendee@example.org", ORGANISERS),
    ("GET", "/api/v1/users/<int:user_id>"): Entry("/api/v1/users/{user:attendee}", ORGANISERS),
    ("PUT", "/api/v1/users/<int:user_id>/roles"): Entry("/api/v1/users/{user:attendee}/roles", ORGANISERS),
    ("GET", "/api/v1/openapi.json"): Entry("/api/v1/openapi.json", PUBLIC),
    ("GET", "/api/v1/system/status"): Entry("/api/v1/system/status", ORGANISERS),
    # --- gateway: chat rooms -----------------------------------------------------------------------------------
    ("GET", "/api/v1/chat-rooms"): Entry("/api/v1/chat-rooms", SIGNED_IN),
    ("GET", "/api/v1/chat-rooms/<room_id>"): Entry("/api/v1/chat-rooms/{room}", ROOM),
    ("GET", "/api/v1/chat-rooms/<room_id>/messages"): Entry("/api/v1/chat-rooms/{room}/messages", ROOM),
    ("POST", "/api/v1/chat-rooms/<room_id>/messages"): Entry(
        "/api/v1/chat-rooms/{room}/messages", ROOM, body={"client_id": "matrix", "text": "hello"}
    ),
    ("POST", "/api/v1/chat-rooms/<room_id>/read"): Entry(
        "/api/v1/chat-rooms/{room}/read", ROOM, body={"last_read_id": 0}
    ),
    ("GET", "/api/v1/chat-rooms/<room_id>/actions"): Entry("/api/v1/chat-rooms/{room}/actions", ROOM),
    ("POST", "/api/v1/chat-rooms/<room_id>/actions"): Entry(
        "/api/v1/chat-rooms/{room}/actions",
        ("401", OK, DENY, OK, DENY, "403", "403"),
        body={"text": "Call back"},
        note="organisers moderate, they do not note actions",
    ),
    ("POST", "/api/v1/chat-rooms/<room_id>/actions/<int:action_id>/done"): Entry(
        "/api/v1/chat-rooms/{room}/actions/{action}/done",
        ("401", OK, DENY, "403", DENY, "403", "403"),
        note="the action's owner (here the attendee who noted it)",
    ),
    ("PUT", "/api/v1/chat-rooms/<room_id>/mutes/<int:user_id>"): Entry(
        "/api/v1/chat-rooms/{room}/mutes/{user:attendee}", ("401", "403", DENY, "403", DENY, OK, OK), order=5
    ),
    ("DELETE", "/api/v1/chat-rooms/<room_id>/mutes/<int:user_id>"): Entry(
        "/api/v1/chat-rooms/{room}/mutes/{user:attendee}", ("401", "403", DENY, "403", DENY, OK, OK), order=6
    ),
    ("GET", "/api/v1/chat-rooms/ama/<int:project_id>"): Entry("/api/v1/chat-rooms/ama/{project}", SIGNED_IN),
    ("PUT", "/api/v1/chat-rooms/ama/<int:project_id>"): Entry(
        "/api/v1/chat-rooms/ama/{project}", ("401", "403", "403", OK, "403", "403", "403"), note="the project's author"
    ),
    ("POST", "/api/v1/chat-rooms/ama/<int:project_id>/room"): Entry(
        "/api/v1/chat-rooms/ama/{project}/room", SIGNED_IN, order=1
    ),
    ("DELETE", "/api/v1/chat-rooms/ama/<int:project_id>"): Entry(
        "/api/v1/chat-rooms/ama/{project}", ("401", "403", "403", OK, "403", "403", "403"), order=2
    ),
    # --- posters: projects -------------------------------------------------------------------------------------
    ("POST", "/api/v1/events/<int:event_id>/projects"): Entry(f"{E}/projects", AUTHORS_AND_ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/projects"): Entry(f"{E}/projects", SIGNED_IN),
    ("GET", "/api/v1/events/<int:event_id>/posters"): Entry(f"{E}/posters", SIGNED_IN),
    ("GET", "/api/v1/events/<int:event_id>/facets"): Entry(f"{E}/facets", SIGNED_IN),
    ("GET", "/api/v1/events/<int:event_id>/upload-failures"): Entry(f"{E}/upload-failures", ORGANISERS),
    ("GET", "/api/v1/me/projects"): Entry("/api/v1/me/projects", SIGNED_IN),
    ("GET", "/api/v1/projects/<int:project_id>"): Entry(P, SIGNED_IN),
    ("PATCH", "/api/v1/projects/<int:project_id>"): Entry(P, PROJECT_OWNER),
    ("DELETE", "/api/v1/projects/<int:project_id>"): Entry(
        "/api/v1/projects/{spare_project}", ("401", DENY, DENY, GONE, DENY, DENY, DENY), order=9
    ),
    ("GET", "/api/v1/projects/<int:project_id>/similar"): Entry(f"{P}/similar", SIGNED_IN),
    ("POST", "/api/v1/projects/<int:project_id>/hide"): Entry(f"{P}/hide", ORGANISERS, order=3),
    ("POST", "/api/v1/projects/<int:project_id>/unhide"): Entry(f"{P}/unhide", ORGANISERS, order=4),
    # --- posters: files ----------------------------------------------------------------------------------------
    ("GET", "/api/v1/projects/<int:project_id>/posters"): Entry(f"{P}/posters", SIGNED_IN),
    ("POST", "/api/v1/projects/<int:project_id>/posters"): Entry(f"{P}/posters", PROJECT_OWNER),
    ("PUT", "/api/v1/projects/<int:project_id>/posters/order"): Entry(
        f"{P}/posters/order", PROJECT_OWNER, body={"poster_ids": ["{poster}", "{spare_poster}"]}
    ),
    ("GET", "/api/v1/posters/<int:poster_id>"): Entry("/api/v1/posters/{poster}", SIGNED_IN),
    ("POST", "/api/v1/posters/<int:poster_id>/replace"): Entry("/api/v1/posters/{poster}/replace", PROJECT_OWNER),
    ("DELETE", "/api/v1/posters/<int:poster_id>"): Entry(
        "/api/v1/posters/{spare_poster}", ("401", DENY, DENY, GONE, DENY, DENY, DENY), order=8
    ),
    ("GET", "/api/v1/posters/<int:poster_id>/thumbnail.png"): Entry(
        "/api/v1/posters/{poster}/thumbnail.png", SIGNED_IN
    ),
    ("GET", "/api/v1/posters/<int:poster_id>/pages/<int:number>.png"): Entry(
        "/api/v1/posters/{poster}/pages/1.png", SIGNED_IN
    ),
    ("GET", "/api/v1/posters/<int:poster_id>/video"): Entry(
        "/api/v1/posters/{poster}/video", ("401",) + ("404",) * 6, note="the world's poster is an image, not a video"
    ),
    # --- posters: Q&A ------------------------------------------------------------------------------------------
    ("GET", "/api/v1/projects/<int:project_id>/questions"): Entry(f"{P}/questions", SIGNED_IN),
    ("POST", "/api/v1/projects/<int:project_id>/questions"): Entry(f"{P}/questions", SIGNED_IN),
    ("PUT", "/api/v1/questions/<int:question_id>/answer"): Entry(
        "/api/v1/questions/{question}/answer", PROJECT_OWNER, body={"text": "We asked everyone first."}
    ),
    ("POST", "/api/v1/questions/<int:question_id>/upvote"): Entry("/api/v1/questions/{question}/upvote", SIGNED_IN),
    ("DELETE", "/api/v1/questions/<int:question_id>/upvote"): Entry(
        "/api/v1/questions/{question}/upvote", SIGNED_IN, order=8
    ),
    ("DELETE", "/api/v1/questions/<int:question_id>"): Entry(
        "/api/v1/questions/{spare_question}",
        ("401", GONE, "403", "403", "403", GONE, GONE),
        order=9,
        note="its asker (the attendee) or an organiser",
    ),
    # --- posters: author approval ------------------------------------------------------------------------------
    ("GET", "/api/v1/events/<int:event_id>/author-approval"): Entry(f"{E}/author-approval", ORGANISERS),
    ("PUT", "/api/v1/events/<int:event_id>/author-approval"): Entry(f"{E}/author-approval", ORGANISERS),
    ("PUT", "/api/v1/events/<int:event_id>/author-approval/authors/<int:user_id>"): Entry(
        f"{E}/author-approval/authors/{{user:author}}", ORGANISERS
    ),
    ("DELETE", "/api/v1/events/<int:event_id>/author-approval/authors/<int:user_id>"): Entry(
        f"{E}/author-approval/authors/{{user:other_author}}", ORGANISERS, order=8
    ),
    # --- matching: insight days and set-up ---------------------------------------------------------------------
    ("POST", "/api/v1/events"): Entry("/api/v1/events", ORGANISERS),
    ("GET", "/api/v1/events"): Entry("/api/v1/events", SIGNED_IN),
    ("GET", "/api/v1/events/<int:event_id>"): Entry(E, SIGNED_IN),
    ("PATCH", "/api/v1/events/<int:event_id>"): Entry(E, ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/setup"): Entry(f"{E}/setup", SIGNED_IN),
    ("PATCH", "/api/v1/events/<int:event_id>/setup"): Entry(f"{E}/setup", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/thesaurus"): Entry(f"{E}/thesaurus", SIGNED_IN),
    ("PUT", "/api/v1/events/<int:event_id>/thesaurus"): Entry(f"{E}/thesaurus", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/slots"): Entry(f"{E}/slots", SIGNED_IN),
    ("POST", "/api/v1/events/<int:event_id>/slots"): Entry(f"{E}/slots", ORGANISERS),
    ("PATCH", "/api/v1/events/<int:event_id>/slots/<int:slot_id>"): Entry(f"{E}/slots/{{slot}}", ORGANISERS),
    ("DELETE", "/api/v1/events/<int:event_id>/slots/<int:slot_id>"): Entry(
        f"{E}/slots/{{spare_slot}}", ("401", "403", "403", "403", "403", GONE, GONE), order=9
    ),
    ("GET", "/api/v1/events/<int:event_id>/breakouts"): Entry(f"{E}/breakouts", SIGNED_IN),
    ("POST", "/api/v1/events/<int:event_id>/breakouts"): Entry(f"{E}/breakouts", ORGANISERS),
    ("PATCH", "/api/v1/events/<int:event_id>/breakouts/<int:breakout_id>"): Entry(
        f"{E}/breakouts/{{breakout}}", ORGANISERS
    ),
    ("DELETE", "/api/v1/events/<int:event_id>/breakouts/<int:breakout_id>"): Entry(
        f"{E}/breakouts/{{spare_breakout}}", ("401", "403", "403", "403", "403", GONE, GONE), order=8
    ),
    # --- matching: registrations -------------------------------------------------------------------------------
    ("GET", "/api/v1/events/<int:event_id>/registration"): Entry(
        f"{E}/registration", ("401", OK, OK, OK, OK, "404", "404"), note="one's own; the organisers are not registered"
    ),
    ("PUT", "/api/v1/events/<int:event_id>/registration"): Entry(f"{E}/registration", SIGNED_IN),
    ("DELETE", "/api/v1/events/<int:event_id>/registration"): Entry(
        f"{E}/registration", ("401", OK, OK, OK, OK, "404", "404"), order=11, note="one's own registration"
    ),
    ("GET", "/api/v1/events/<int:event_id>/registrations"): Entry(f"{E}/registrations", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/registrations.csv"): Entry(f"{E}/registrations.csv", ORGANISERS),
    ("POST", "/api/v1/events/<int:event_id>/registrations/import"): Entry(f"{E}/registrations/import", ORGANISERS),
    # --- matching: assignment and timetable --------------------------------------------------------------------
    ("POST", "/api/v1/events/<int:event_id>/assignment-runs"): Entry(
        f"{E}/assignment-runs", ORGANISERS, body={"seed": "not a number"}
    ),
    ("GET", "/api/v1/events/<int:event_id>/assignment-runs"): Entry(f"{E}/assignment-runs", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/assignment-runs/<int:run_id>"): Entry(
        f"{E}/assignment-runs/{{assignment_run}}", ORGANISERS
    ),
    ("GET", "/api/v1/events/<int:event_id>/assignment-runs/compare"): Entry(
        f"{E}/assignment-runs/compare?a={{assignment_run}}&b={{assignment_run}}", ORGANISERS
    ),
    ("POST", "/api/v1/events/<int:event_id>/assignment-runs/<int:run_id>/publish"): Entry(
        f"{E}/assignment-runs/999999/publish",
        ("401", "403", "403", "403", "403", "404", "404"),
        note="a run that does not exist: organisers learn that, nobody else gets that far",
    ),
    ("GET", "/api/v1/events/<int:event_id>/assignment-locks"): Entry(f"{E}/assignment-locks", ORGANISERS),
    ("PUT", "/api/v1/events/<int:event_id>/assignment-locks"): Entry(f"{E}/assignment-locks", ORGANISERS),
    ("DELETE", "/api/v1/events/<int:event_id>/assignment-locks/<int:lock_id>"): Entry(
        f"{E}/assignment-locks/999999", ("401", "403", "403", "403", "403", "404", "404"), order=8
    ),
    ("GET", "/api/v1/events/<int:event_id>/schedule.csv"): Entry(f"{E}/schedule.csv", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/my-schedule"): Entry(f"{E}/my-schedule", SIGNED_IN),
    ("POST", "/api/v1/events/<int:event_id>/timetable-runs"): Entry(
        f"{E}/timetable-runs", ORGANISERS, body={"seed": "not a number"}
    ),
    ("GET", "/api/v1/events/<int:event_id>/timetable-runs"): Entry(f"{E}/timetable-runs", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/timetable-runs/<int:run_id>"): Entry(
        f"{E}/timetable-runs/{{timetable_run}}", ORGANISERS
    ),
    ("POST", "/api/v1/events/<int:event_id>/timetable-runs/<int:run_id>/evaluate"): Entry(
        f"{E}/timetable-runs/999999/evaluate", ORGANISERS
    ),
    ("POST", "/api/v1/events/<int:event_id>/timetable-runs/<int:run_id>/apply"): Entry(
        f"{E}/timetable-runs/999999/apply", ("401", "403", "403", "403", "403", "404", "404")
    ),
    ("GET", "/api/v1/events/<int:event_id>/timetable-locks"): Entry(f"{E}/timetable-locks", ORGANISERS),
    ("PUT", "/api/v1/events/<int:event_id>/timetable-locks"): Entry(f"{E}/timetable-locks", ORGANISERS),
    ("DELETE", "/api/v1/events/<int:event_id>/timetable-locks/<int:breakout_id>"): Entry(
        f"{E}/timetable-locks/{{breakout}}", ("401", "403", "403", "403", "403", GONE, GONE), order=8
    ),
    ("GET", "/api/v1/events/<int:event_id>/spinoff-suggestions"): Entry(f"{E}/spinoff-suggestions", ORGANISERS),
    ("POST", "/api/v1/events/<int:event_id>/spinoff-suggestions/<key>/breakout"): Entry(
        f"{E}/spinoff-suggestions/nokey/breakout", ("401", "403", "403", "403", "403", "404", "404")
    ),
    ("GET", "/api/v1/events/<int:event_id>/outcomes"): Entry(f"{E}/outcomes", DAY_ORGANISER),
    ("GET", "/api/v1/events/<int:event_id>/outcomes.csv"): Entry(f"{E}/outcomes.csv", DAY_ORGANISER),
    # --- matching: chat slots ----------------------------------------------------------------------------------
    ("GET", "/api/v1/projects/<int:project_id>/chat-slots"): Entry(f"{P}/chat-slots", SIGNED_IN),
    ("POST", "/api/v1/projects/<int:project_id>/chat-slots"): Entry(
        f"{P}/chat-slots", PROJECT_OWNER, body={"starts_at": "{new_chat_slot_at}", "minutes": 15}
    ),
    ("GET", "/api/v1/chat-slots/<int:slot_id>"): Entry("/api/v1/chat-slots/{chat_slot}", SIGNED_IN),
    ("DELETE", "/api/v1/chat-slots/<int:slot_id>"): Entry(
        "/api/v1/chat-slots/{free_chat_slot}", ("401", DENY, DENY, GONE, DENY, DENY, DENY), order=9
    ),
    ("POST", "/api/v1/chat-slots/<int:slot_id>/booking"): Entry(
        "/api/v1/chat-slots/{chat_slot}/booking",
        ("401", OK, OK, "403", OK, OK, OK),
        note="the author cannot book their own slot; taken: 409 for the others",
    ),
    ("DELETE", "/api/v1/chat-slots/<int:slot_id>/booking"): Entry(
        "/api/v1/chat-slots/{spare_chat_slot}/booking", ("401", GONE, DENY, GONE, DENY, DENY, DENY), order=8
    ),
    ("POST", "/api/v1/chat-slots/<int:slot_id>/waitlist"): Entry(
        "/api/v1/chat-slots/{chat_slot}/waitlist", ("401", OK, OK, "403", OK, OK, OK)
    ),
    ("DELETE", "/api/v1/chat-slots/<int:slot_id>/waitlist"): Entry(
        "/api/v1/chat-slots/{chat_slot}/waitlist",
        ("401", GONE, GONE, GONE, GONE, GONE, GONE),
        order=7,
        note="404 for whoever is not waiting",
    ),
    ("GET", "/api/v1/me/chat-bookings"): Entry("/api/v1/me/chat-bookings", SIGNED_IN),
    # --- matching: coffee --------------------------------------------------------------------------------------
    ("POST", "/api/v1/events/<int:event_id>/coffee-rounds"): Entry(f"{E}/coffee-rounds", ORGANISERS),
    ("GET", "/api/v1/events/<int:event_id>/coffee-rounds"): Entry(f"{E}/coffee-rounds", SIGNED_IN),
    ("GET", "/api/v1/coffee-rounds/<int:round_id>"): Entry("/api/v1/coffee-rounds/{coffee_round}", SIGNED_IN),
    ("POST", "/api/v1/coffee-rounds/<int:round_id>/opt-in"): Entry(
        "/api/v1/coffee-rounds/{coffee_round}/opt-in", REGISTERED
    ),
    ("DELETE", "/api/v1/coffee-rounds/<int:round_id>/opt-in"): Entry(
        "/api/v1/coffee-rounds/{coffee_round}/opt-in", ("401", GONE, GONE, GONE, GONE, "404", "404"), order=7
    ),
    ("POST", "/api/v1/coffee-rounds/<int:round_id>/pair"): Entry(
        "/api/v1/coffee-rounds/{coffee_round}/pair", ORGANISERS, body={"seed": -1}
    ),
    ("POST", "/api/v1/coffee-rounds/<int:round_id>/accept"): Entry(
        "/api/v1/coffee-rounds/{coffee_round}/accept", SIGNED_IN
    ),
    ("POST", "/api/v1/coffee-rounds/<int:round_id>/decline"): Entry(
        "/api/v1/coffee-rounds/{coffee_round}/decline", SIGNED_IN, body={"rematch": "no"}
    ),
    # --- matching: profiles and the people directory -----------------------------------------------------------
    ("GET", "/api/v1/me/profile"): Entry("/api/v1/me/profile", SIGNED_IN),
    ("PUT", "/api/v1/me/profile"): Entry("/api/v1/me/profile", SIGNED_IN, body={"bio": "not an object"}),
    ("GET", "/api/v1/events/<int:event_id>/people"): Entry(f"{E}/people", SIGNED_IN),
    ("POST", "/api/v1/events/<int:event_id>/people/<int:user_id>/contact-requests"): Entry(
        f"{E}/people/{{user:author}}/contact-requests", SIGNED_IN
    ),
    ("GET", "/api/v1/me/contact-requests"): Entry("/api/v1/me/contact-requests", SIGNED_IN),
    ("POST", "/api/v1/contact-requests/<int:request_id>/accept"): Entry(
        "/api/v1/contact-requests/{contact_request}/accept", ("401", DENY, DENY, OK, DENY, DENY, DENY)
    ),
    ("POST", "/api/v1/contact-requests/<int:request_id>/decline"): Entry(
        "/api/v1/contact-requests/{contact_request}/decline", ("401", DENY, DENY, OK, DENY, DENY, DENY)
    ),
    # --- notify ------------------------------------------------------------------------------------------------
    ("GET", "/api/v1/me/notifications"): Entry("/api/v1/me/notifications", SIGNED_IN),
    ("POST", "/api/v1/me/notifications/<int:notification_id>/read"): Entry(
        "/api/v1/me/notifications/{notification}/read", ("401", OK, DENY, DENY, DENY, DENY, DENY)
    ),
    ("POST", "/api/v1/me/notifications/read-all"): Entry("/api/v1/me/notifications/read-all", SIGNED_IN),
    ("GET", "/api/v1/notify/failed-emails"): Entry("/api/v1/notify/failed-emails", ORGANISERS),
    ("POST", "/api/v1/notify/emails/<int:email_id>/resend"): Entry(
        "/api/v1/notify/emails/999999/resend", ("401", "403", "403", "403", "403", "404", "404")
    ),
    ("GET", "/api/v1/me/calendar.ics"): Entry("/api/v1/me/calendar.ics", SIGNED_IN),
    ("GET", "/api/v1/calendar/<token>.ics"): Entry(
        "/api/v1/calendar/not-a-real-token.ics",
        ("404",) * 7,
        note="not routed under /api/v1: calendar apps use the page /calendar/<token>.ics (the token is the key)",
    ),
    ("GET", "/api/v1/me/calendar-token"): Entry("/api/v1/me/calendar-token", SIGNED_IN),
    ("POST", "/api/v1/me/calendar-token"): Entry("/api/v1/me/calendar-token", SIGNED_IN),
    ("DELETE", "/api/v1/me/calendar-token"): Entry("/api/v1/me/calendar-token", SIGNED_IN, order=7),
    ("GET", "/api/v1/me/notification-settings"): Entry("/api/v1/me/notification-settings", SIGNED_IN),
    ("PUT", "/api/v1/me/notification-settings"): Entry(
        "/api/v1/me/notification-settings", SIGNED_IN, body={"digest_hour": 99}
    ),
    ("GET", "/api/v1/unsubscribe/<token>"): Entry(
        "/api/v1/unsubscribe/not-a-real-token", ("404",) * 7, note="not routed: the mail link opens a gateway page"
    ),
    ("POST", "/api/v1/unsubscribe/<token>"): Entry(
        "/api/v1/unsubscribe/not-a-real-token", ("404",) * 7, note="not routed: the mail link opens a gateway page"
    ),
    ("GET", "/api/v1/me/followup"): Entry("/api/v1/me/followup", SIGNED_IN),
    ("GET", "/api/v1/me/followup/events/<int:event_id>"): Entry(
        "/api/v1/me/followup/events/{event}", ("401",) + ("404",) * 6, note="the day has not ended yet"
    ),
    ("GET", "/api/v1/followup/surveys/<int:event_id>"): Entry(
        "/api/v1/followup/surveys/{event}", ("401",) + ("404",) * 6, note="the day has not ended yet"
    ),
    ("PUT", "/api/v1/followup/surveys/<int:event_id>"): Entry("/api/v1/followup/surveys/{event}", SIGNED_IN),
}

# Socket.IO namespace /chat: "connect" plus every event, with the chat room of the world as `room_id`.
VIDEO = ("401", OK, DENY, OK, DENY, DENY, DENY)  # the two participants only (organisers: "not found")
SOCKET_MATRIX: dict[str, tuple[str, ...]] = {
    "connect": ("401",) + (OK,) * 6,
    "join": ("401", OK, DENY, OK, DENY, OK, OK),
    "leave": ("401",) + (OK,) * 6,  # leaving a room one is not in changes nothing and tells nothing
    "message": ("401", OK, DENY, OK, DENY, OK, OK),
    "resume": ("401", OK, DENY, OK, DENY, OK, OK),
    "typing": ("401", OK, DENY, OK, DENY, OK, OK),
    "video_join": VIDEO,
    "video_offer": VIDEO,
    "video_answer": VIDEO,
    "video_ice": VIDEO,
    "video_state": VIDEO,
    "video_hangup": VIDEO,
}
# Valid payloads (beyond {"room_id"}), so a refusal is about who calls, not about a malformed payload.
SOCKET_PAYLOADS: dict[str, dict[str, object]] = {
    "message": {"text": "hello from the matrix", "client_id": "matrix-socket"},
    "video_offer": {"description": {"type": "offer", "sdp": "v=0\r\n"}},
    "video_answer": {"description": {"type": "answer", "sdp": "v=0\r\n"}},
    "video_ice": {"candidate": {"candidate": ""}},
    "video_state": {"state": "ringing"},
}
