"""Signed internal identity: the gateway vouches for the caller; services trust only that signature.

The token is `base64url(JSON claims).base64url(Ed25519 signature)`. Only the gateway holds the private key, so a
service (or a worker that decodes untrusted files) that leaks its configuration cannot mint identities. The claims
name the target service (`aud`: a token sent to posters is refused by matching) and expire after EXPIRY_S, with
LEEWAY_S for clocks that differ a little between containers.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import wraps
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app, g, request

from shared.errors import ApiError

HEADER = "X-Internal-Identity"
ROLES = ("attendee", "author", "organiser")
EXPIRY_S = 30  # a request reaches its service within milliseconds; a replayed token soon goes stale
LEEWAY_S = 5
MAX_TOKEN_CHARS = 8192

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Identity:
    user_id: int
    email: str
    display_name: str
    organisation: str = ""
    region: str = ""
    roles: list[str] = field(default_factory=list)

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class InvalidIdentityToken(ValueError):
    """Malformed, forged, expired, or meant for another service."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_identity(
    identity: Identity,
    private_key: Ed25519PrivateKey,
    audience: str,
    *,
    now: float | None = None,
    lifetime_s: int = EXPIRY_S,
) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"aud": audience, "iat": issued, "exp": issued + lifetime_s, "sub": asdict(identity)}
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(private_key.sign(payload))}"


def verify_identity(
    token: str, public_key: Ed25519PublicKey, audience: str, *, now: float | None = None, leeway: int = LEEWAY_S
) -> Identity:
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidIdentityToken("malformed")
    payload_text, signature_text = token.split(".")
    try:
        payload, signature = _unb64(payload_text), _unb64(signature_text)
        public_key.verify(signature, payload)  # before parsing: unsigned bytes are never interpreted
        claims = json.loads(payload)
    except (ValueError, InvalidSignature) as exc:
        raise InvalidIdentityToken("bad signature") from exc
    current = time.time() if now is None else now
    if not isinstance(claims, dict) or claims.get("aud") != audience:
        raise InvalidIdentityToken("wrong audience")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int) or not isinstance(issued, int):
        raise InvalidIdentityToken("no lifetime")
    if current > expires + leeway or issued > current + leeway:
        raise InvalidIdentityToken("expired or not yet valid")
    try:
        return Identity(**claims["sub"])
    except (KeyError, TypeError) as exc:
        raise InvalidIdentityToken("bad subject") from exc


def current_identity() -> Identity | None:
    """The caller vouched for by the gateway, or None."""
    if "identity" not in g:
        token = request.headers.get(HEADER)
        g.identity = None
        if token:
            try:
                g.identity = verify_identity(
                    token, current_app.config["IDENTITY_KEYS"].public, current_app.config["SERVICE"]
                )
            except InvalidIdentityToken:
                g.identity = None
    return g.identity


def require_identity(*roles: str) -> Callable[[F], F]:
    """401 without a valid identity; 403 when `roles` is given and the caller has none of them."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if identity is None:
                raise ApiError(401, "unauthenticated", "sign in first")
            if roles and not identity.has_role(*roles):
                raise ApiError(403, "forbidden", f"requires role: {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
