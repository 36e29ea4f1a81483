"""The follow-up survey's signed links: bound to one person and day, refused when tampered, expired or signed for
another purpose."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from services.notify.followup.tokens import read_survey_token, survey_token, survey_url

SECRET = "unit-test-secret"


def test_a_token_names_its_person_and_day() -> None:
    assert read_survey_token(SECRET, survey_token(SECRET, 12, 5)) == (12, 5)


def test_a_tampered_or_foreign_token_is_refused() -> None:
    token = survey_token(SECRET, 12, 5)
    assert read_survey_token(SECRET, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert read_survey_token("another secret", token) is None
    other_purpose = URLSafeTimedSerializer(SECRET, salt="notify.unsubscribe.v1").dumps({"u": 12, "e": 5})
    assert read_survey_token(SECRET, other_purpose) is None
    assert read_survey_token(SECRET, "") is None and read_survey_token(SECRET, "x" * 600) is None


def test_an_expired_token_is_refused() -> None:
    token = survey_token(SECRET, 12, 5)
    assert read_survey_token(SECRET, token, max_age_s=-1) is None  # older than any allowed age


def test_the_url_points_at_the_gateway_page() -> None:
    url = survey_url("http://127.0.0.1:8000/", SECRET, 12, 5)
    assert url.startswith("http://127.0.0.1:8000/followup/survey/5?t=")
    assert read_survey_token(SECRET, url.split("?t=", 1)[1]) == (12, 5)
