"""WEBRTC_ICE_SERVERS: read once at start, a bad value stops the gateway with a message that names the entry and
field but never shows a credential."""

from __future__ import annotations

import pytest

from services.gateway.chat.video import parse_ice_servers
from shared.config import ConfigError

SECRET = "s3cret-turn-credential"


def test_default_is_no_servers_and_good_entries_are_kept() -> None:
    assert parse_ice_servers(None) == [] and parse_ice_servers("[]") == []
    raw = (
        '[{"urls": "stun:stun.example.org:3478"},'
        ' {"urls": ["turn:turn.example.org:3478", "turns:turn.example.org:5349"],'
        f' "username": "u", "credential": "{SECRET}"}}]'
    )
    assert parse_ice_servers(raw) == [
        {"urls": "stun:stun.example.org:3478"},
        {"urls": ["turn:turn.example.org:3478", "turns:turn.example.org:5349"], "username": "u", "credential": SECRET},
    ]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("not json", "not valid JSON"),
        ('{"urls": "stun:x"}', "WEBRTC_ICE_SERVERS: Input should be a valid list"),
        ('[{"urls": "http://example.org"}]', "WEBRTC_ICE_SERVERS[0].urls: a URL must start with"),
        ('[{"urls": []}]', "WEBRTC_ICE_SERVERS[0].urls: give at least one URL"),
        (f'[{{"urls": "turn:t.example.org", "credential": "{SECRET}"}}]', "[0]: a TURN server needs username"),
        (f'[{{"urls": "stun:x"}}, {{"urls": "turn:t", "username": 5, "credential": "{SECRET}"}}]', "[1].username"),
        (f'[{{"urls": "stun:x", "password": "{SECRET}"}}]', "[0].password: Extra inputs are not permitted"),
        ("[" + ",".join(['{"urls": "stun:x"}'] * 11) + "]", "at most 10 servers"),
    ],
)
def test_a_bad_value_is_refused_without_showing_a_credential(raw: str, said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_ice_servers(raw)
    assert said in str(refused.value)
    error = refused.value
    assert SECRET not in str(error)
    # Nor in the traceback: pydantic's own error (which quotes the input) is not chained to it.
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
