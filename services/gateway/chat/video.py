"""WebRTC signalling for the 1-1 video call of a booked chat room (Socket.IO namespace /chat).

The media flows peer to peer; the gateway only relays offers, answers, ICE candidates and call states between the
two participants. Every event re-checks, for this very event:
- the sender is one of the room's two participants. Organisers may moderate the chat but never see or inject
  media signalling; they, strangers and unknown room ids all get the same "not found";
- the room is a booked chat that is open: not cancelled, and not past the slot's end (the moment writing closes).
  Before the start is allowed: the room is private to the two, and trying camera and microphone a few minutes
  early is what people do;
- the payload is small (an SDP or a candidate, not a file).
Relays go to a per-room-per-user Socket.IO room that only the other participant's room page joins (`video_join`),
never to the chat room, where an organiser may be listening, nor to the user's personal room, which every page
of theirs joins.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import Flask, current_app
from flask_socketio import SocketIO, join_room
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from services.gateway.chat import broadcast, domain, service
from services.gateway.chat.domain import ChatRuleError, Room
from services.gateway.chat.service import RoomNotFound
from services.gateway.chat.sockets import Ack, guarded
from services.gateway.domain.accounts import Account
from shared.config import ConfigError, env
from shared.events import utcnow
from shared.service_app import db

log = logging.getLogger(__name__)

NAMESPACE = broadcast.NAMESPACE
# A Chrome offer for one audio and one video track is 5-8 KB of SDP; 32 KB leaves room for more codecs.
MAX_SDP_CHARS = 32_000
MAX_CANDIDATE_CHARS = 1_000
MAX_ICE_SERVERS = 10
CALL_CLOSED = {
    "cancelled": "this chat was cancelled: no video call",
    "closed": "this chat room is closed: no video call",
    "ended": "this chat has ended: no more video calls",
}


def video_room(room_id: str, user_id: int) -> str:
    return f"video:{room_id}:{user_id}"


# ---- payloads ------------------------------------------------------------------------------------------------
class _Signal(BaseModel):
    """Strict like shared.validation.Strict, but strings are kept as sent: an SDP ends with a CRLF it needs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    room_id: str = Field(min_length=1, max_length=64)


class _Description(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)


class OfferOrAnswer(_Signal):
    description: _Description


class IceCandidate(BaseModel):
    """RTCIceCandidateInit, as RTCIceCandidate.toJSON() gives it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # The browser's field names, kept as they are so the other side can pass the dict straight back.
    candidate: str = Field(max_length=MAX_CANDIDATE_CHARS)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class Ice(_Signal):
    candidate: IceCandidate


class CallState(_Signal):
    # ringing: I am calling you; accepted: I joined, let's connect; declined/busy/unavailable: not now
    # (unavailable: my camera or microphone could not start). camera/microphone: my toggles, for your screen.
    state: Literal["ringing", "accepted", "declined", "busy", "unavailable"] | None = None
    camera: bool | None = None
    microphone: bool | None = None


class Hangup(_Signal):
    reason: Literal["hangup", "left", "ended"] = "hangup"


class Join(_Signal):
    pass


# ---- STUN/TURN configuration ---------------------------------------------------------------------------------
class IceServer(BaseModel):
    """One RTCIceServer. TURN needs a username and credential (the browser refuses it otherwise)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    urls: str | list[str]
    username: str | None = Field(default=None, max_length=512)
    credential: str | None = Field(default=None, max_length=512)

    def url_list(self) -> list[str]:
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)


_ICE_SERVERS = TypeAdapter(list[IceServer])


def parse_ice_servers(raw: str | list[Any] | None) -> list[dict[str, Any]]:
    """WEBRTC_ICE_SERVERS validated: a JSON list of RTCIceServer dicts. Errors name the entry and field, never a
    value (a credential must not end up in a log or a traceback)."""
    if raw is None or raw == "":
        return []
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise ConfigError("WEBRTC_ICE_SERVERS is not valid JSON (expected a list of RTCIceServer objects)") from None
    try:
        servers = _ICE_SERVERS.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise ConfigError(f"WEBRTC_ICE_SERVERS{where}: {first['msg']}") from None
    if len(servers) > MAX_ICE_SERVERS:
        raise ConfigError(f"WEBRTC_ICE_SERVERS: at most {MAX_ICE_SERVERS} servers")
    for index, server in enumerate(servers):
        urls = server.url_list()
        if not urls:
            raise ConfigError(f"WEBRTC_ICE_SERVERS[{index}].urls: give at least one URL")
        for url in urls:
            scheme = url.split(":", 1)[0].lower()
            if scheme not in ("stun", "stuns", "turn", "turns") or ":" not in url:
                raise ConfigError(
                    f"WEBRTC_ICE_SERVERS[{index}].urls: a URL must start with stun:, stuns:, turn: or turns:"
                )
            if scheme.startswith("turn") and not (server.username and server.credential):
                raise ConfigError(f"WEBRTC_ICE_SERVERS[{index}]: a TURN server needs username and credential")
    return [server.model_dump(exclude_none=True) for server in servers]


def _configure(app: Flask) -> None:
    raw = app.config.get("WEBRTC_ICE_SERVERS")
    servers = parse_ice_servers(env("WEBRTC_ICE_SERVERS", "[]") if raw is None else raw)
    app.config["WEBRTC_ICE_SERVERS"] = servers  # the room page hands them to the browser (data-ice-servers)
    # URLs only: the credentials stay out of the logs.
    log.info("webrtc ice servers", extra={"ice_urls": [u for s in servers for u in IceServer(**s).url_list()]})


# ---- access ----------------------------------------------------------------------------------------------------
def call_room(account: Account, room_id: str, *, hanging_up: bool = False) -> Room:
    """The room if the caller may take part in its video call now; RoomNotFound for anybody not in it.

    Hanging up is allowed in a room that has just ended or been cancelled: it only ends what was going on."""
    access = service.authorize(db(), room_id, account)
    if access.role != "participant":
        raise RoomNotFound(room_id)  # an organiser: the same answer as a stranger
    room = access.room
    if hanging_up:
        return room
    if room.kind != "booked":
        raise ChatRuleError("no_video", "video calls are for booked chats only", None, status=409)
    reason = domain.writing_closed_reason(room, utcnow(), access.ama_open)
    if reason is not None:
        raise ChatRuleError(reason, CALL_CLOSED[reason], None, status=409)
    return room


def _checked_room(account: Account, data: Any, *, hanging_up: bool = False) -> Room:
    """Who may signal in which room comes first: anybody not in the room gets "not found" whatever else they send
    (a malformed signal from a stranger must not be answered differently from a well-formed one)."""
    room_id = data.get("room_id") if isinstance(data, dict) else None
    if not isinstance(room_id, str) or not 1 <= len(room_id) <= 64:
        raise ChatRuleError("invalid", "room_id is required", "room_id")
    return call_room(account, room_id, hanging_up=hanging_up)


def register(app: Flask, socketio: SocketIO, account_of_socket: Callable[[], Account | None]) -> None:
    """Validates the STUN/TURN configuration (a bad one stops the start) and adds the signalling events."""
    _configure(app)
    on = guarded(account_of_socket)

    def relay(account: Account, room: Room, event: str, body: dict[str, Any]) -> Ack:
        other = room.other_participant(account.id)
        assert other is not None  # call_room let only a participant through
        payload = {"room_id": room.id, "from": account.id, **body}
        current_app.extensions["socketio"].emit(event, payload, to=video_room(room.id, other), namespace=NAMESPACE)
        return {"ok": True}

    @socketio.on("video_join", namespace=NAMESPACE)
    @on
    def video_join(account: Account, data: Any) -> Ack:
        """The room page is ready for calls: from now on this socket gets what the other participant sends."""
        room = _checked_room(account, data)
        Join.model_validate(data)
        other = room.other_participant(account.id)
        join_room(video_room(room.id, account.id))
        # Perfect negotiation needs exactly one polite side; both derive it from the same two ids.
        return {"ok": True, "peer_id": other, "polite": account.id > (other or 0)}

    @socketio.on("video_offer", namespace=NAMESPACE)
    @on
    def video_offer(account: Account, data: Any) -> Ack:
        room = _checked_room(account, data)
        signal = OfferOrAnswer.model_validate(data)
        if signal.description.type != "offer":
            raise ChatRuleError("invalid", "video_offer carries an offer", "description.type")
        return relay(account, room, "video_offer", {"description": signal.description.model_dump()})

    @socketio.on("video_answer", namespace=NAMESPACE)
    @on
    def video_answer(account: Account, data: Any) -> Ack:
        room = _checked_room(account, data)
        signal = OfferOrAnswer.model_validate(data)
        if signal.description.type != "answer":
            raise ChatRuleError("invalid", "video_answer carries an answer", "description.type")
        return relay(account, room, "video_answer", {"description": signal.description.model_dump()})

    @socketio.on("video_ice", namespace=NAMESPACE)
    @on
    def video_ice(account: Account, data: Any) -> Ack:
        room = _checked_room(account, data)
        signal = Ice.model_validate(data)
        return relay(account, room, "video_ice", {"candidate": signal.candidate.model_dump()})

    @socketio.on("video_state", namespace=NAMESPACE)
    @on
    def video_state(account: Account, data: Any) -> Ack:
        room = _checked_room(account, data)
        signal = CallState.model_validate(data)
        return relay(account, room, "video_state", signal.model_dump(exclude={"room_id"}, exclude_none=True))

    @socketio.on("video_hangup", namespace=NAMESPACE)
    @on
    def video_hangup(account: Account, data: Any) -> Ack:
        room = _checked_room(account, data, hanging_up=True)
        signal = Hangup.model_validate(data)
        return relay(account, room, "video_hangup", {"reason": signal.reason})
