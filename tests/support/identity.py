"""Stand in for the gateway in tests of one service: sign an identity with the local key pair of a var dir."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared.auth import HEADER, Identity, sign_identity
from shared.identity_keys import local_private_key

# The gateway signs each call anew (tokens live EXPIRY_S, 30 s). A test signs once and keeps the header for the whole
# test, which on a loaded machine (waiting for a worker's run) outlasts 30 s: test headers live an hour instead. The
# expiry itself is tested in tests/unit/test_internal_identity.py.
TEST_TOKEN_LIFETIME_S = 3600


def identity_header(var_dir: Path, audience: str, identity: Identity) -> dict[str, str]:
    """The header the gateway would send to `audience`, signed with `var_dir`'s local key pair."""
    token = sign_identity(identity, local_private_key(var_dir), audience, lifetime_s=TEST_TOKEN_LIFETIME_S)
    return {HEADER: token}


def app_identity_header(app: Flask, identity: Identity) -> dict[str, str]:
    return identity_header(app.config["SETTINGS"].var_dir, app.config["SERVICE"], identity)
