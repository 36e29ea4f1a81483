"""Signed internal identity: the gateway vouches for the caller; services trust only that signature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.errors import ApiError

HEADER = "X-Internal-Identity"
ROLES = ("attendee", "author", "organiser")
_SALT = "insightdays.internal-identity.v1"
MAX_AGE_S = 120

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


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def sign_identity(identity: Identity, secret: str) -> str:
    return _serializer(secret).dumps(asdict(identity))


def verify_identity(token: str, secret: str, max_age: int = MAX_AGE_S) -> Identity:
    data = _serializer(secret).loads(token, max_age=max_age)
    return Identity(**data)


def current_identity() -> Identity | None:
    """The caller vouched for by the gateway, or None."""
    if "identity" not in g:
        token = request.headers.get(HEADER)
        g.identity = None
        if token:
            try:
                g.identity = verify_identity(token, current_app.config["INTERNAL_SECRET"])
            except (BadSignature, TypeError, ValueError):
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
