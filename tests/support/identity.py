"""Stand in for the gateway in tests of one service: sign an identity with the local key pair of a var dir."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared.auth import HEADER, Identity, sign_identity
from shared.identity_keys import local_private_key


def identity_header(var_dir: Path, audience: str, identity: Identity) -> dict[str, str]:
    """The header the gateway would send to `audience`, signed with `var_dir`'s local key pair."""
    return {HEADER: sign_identity(identity, local_private_key(var_dir), audience)}


def app_identity_header(app: Flask, identity: Identity) -> dict[str, str]:
    return identity_header(app.config["SETTINGS"].var_dir, app.config["SERVICE"], identity)
