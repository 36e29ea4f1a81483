"""People get HTML error pages; API clients get the JSON error shape."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def client(make_app):  # type: ignore[no-untyped-def]
    return make_app("gateway", LOGIN_FREE_FAILURES=2).test_client()


def test_unknown_page_is_an_html_404_for_people(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no/such/page", headers=BROWSER)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert b"Not found" in response.data and b"Back to the insight days" in response.data


def test_api_errors_stay_json_even_for_browsers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/no-such-route", headers=BROWSER)
    assert response.status_code in (401, 404) and response.mimetype == "application/json"
    assert response.get_json()["error"]["code"]
    response = client.post("/api/v1/auth/register", json={"email": "x"}, headers=BROWSER)
    assert response.status_code == 400 and response.get_json()["error"]["field"]


def test_too_many_sign_in_attempts_show_a_page_not_json(client) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for _ in range(4):
        page = client.get("/login")
        token = page.data.split(b'name="csrf_token" type="hidden" value="', 1)[1].split(b'"', 1)[0].decode()
        response = client.post(
            "/login",
            data={"email": "nobody@example.org", "password": "wrong password!", "csrf_token": token},
            headers=BROWSER,
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429, statuses
    assert response.mimetype == "text/html" and b"Slow down" in response.data
