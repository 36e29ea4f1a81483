"""Signed links of the follow-up mails: answer the survey without signing in. Purpose-bound salt, so a token
signed for anything else (an unsubscribe link) does not verify here; expires after SURVEY_TOKEN_MAX_AGE."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

SURVEY_SALT = "notify.followup.survey.v1"
SURVEY_TOKEN_MAX_AGE_S = 90 * 24 * 3600


def survey_token(secret: str, user_id: int, event_id: int) -> str:
    return URLSafeTimedSerializer(secret, salt=SURVEY_SALT).dumps({"u": user_id, "e": event_id})


def read_survey_token(secret: str, token: str, max_age_s: int = SURVEY_TOKEN_MAX_AGE_S) -> tuple[int, int] | None:
    """(user_id, event_id), or None when tampered, expired or malformed."""
    if not token or len(token) > 500:
        return None
    try:
        data = URLSafeTimedSerializer(secret, salt=SURVEY_SALT).loads(token, max_age=max_age_s)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), int):
        return None
    return data["u"], data["e"]


def survey_url(public_url: str, secret: str, user_id: int, event_id: int) -> str:
    return f"{public_url.rstrip('/')}/followup/survey/{event_id}?t={survey_token(secret, user_id, event_id)}"
