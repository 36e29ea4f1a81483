"""Simulated attendees for the load test (locust), and the headless runner bench_load.py starts as a subprocess.

Importing locust monkey-patches the process with gevent, so this file runs in its own process; it never starts
or stops parts of the system (bench_load.py does, when this runner prints `KILL`).

Each simulated user is a seat that visitors take in turn: a visitor arrives (a new one signs up, a returning one
signs in), does 10 to 40 things with a think time between them, signs out, and the next visitor takes the seat.
Visitors are browsers (HTML pages with the session cookie, the JavaScript's API calls, images) or API clients
(bearer token); a few are authors who add a project and upload a poster. Booking and chat do not exist yet and
are not simulated.

    .venv/bin/python bench/load_locustfile.py --host URL --config seed.json --results out.json \
        --users 500 --spawn-rate 10 --seconds 60
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import HttpUser, events, task
from locust.env import Environment
from PIL import Image, ImageDraw

CONFIG: dict[str, Any] = {}
PHASE = "ramp"
START = time.time()
SAMPLES: list[tuple[str, str, float, float, str]] = []  # (phase, name, t since start, ms, error kind or "")
REGISTERED: list[dict[str, Any]] = []  # every account a visitor created, for the welcome check
UPLOADS: list[dict[str, Any]] = []  # every poster upload the system accepted (202)
RETURNING: list[tuple[str, str]] = []  # accounts whose visitor left; a returning visitor signs in with one
SEATED = [0]  # seats that have had a signed-in visitor (a visitor whose sign-up failed makes way for another)

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_IMAGE = re.compile(r'src="(/api/v1/posters/\d+/(?:thumbnail\.png|pages/\d+\.png))"')


def error_kind(exception: BaseException | None, response: Any) -> str:
    if exception is None:
        return ""
    text = repr(exception)
    for needle, kind in (
        ("RemoteDisconnected", "connection closed without a response"),
        ("ConnectionResetError", "connection reset"),
        ("Connection refused", "connection refused"),
        ("BrokenPipe", "broken pipe"),
        ("ReadTimeout", "read timeout"),
        ("ConnectTimeout", "connect timeout"),
        ("IncompleteRead", "response cut off (IncompleteRead)"),
    ):
        if needle in text:
            return kind
    if type(exception).__name__ == "CatchResponseError":
        return str(exception)
    return f"{type(exception).__name__}: {str(exception)[:120]}"


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **_kw):  # type: ignore[no-untyped-def]
    SAMPLES.append((PHASE, name, time.time() - START, float(response_time), error_kind(exception, response)))


def small_poster(title: str) -> bytes:
    image = Image.new("RGB", (600, 850), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 600, 110), fill="#1d4e89")
    draw.text((30, 40), title, fill="white", font_size=28)
    for i, line in enumerate(("Aim", "Method", "What we learned")):
        draw.text((30, 220 + i * 180), line, fill="#333", font_size=24)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Visitor(HttpUser):
    """One seat: visitors come and go (see the module docstring)."""

    def wait_time(self) -> float:
        low, high = CONFIG.get("think", (3.0, 9.0))
        return random.uniform(low, high)

    def on_start(self) -> None:
        self.seated = False
        self.retry: tuple[str, str, str, str | None] | None = None
        self.arrive()

    # --- helpers ----------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, name: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", CONFIG.get("timeout", 60))
        kwargs.setdefault("allow_redirects", False)
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            self.last_status = response.status_code
            if response.status_code in ok:
                response.success()
                return response
            if response.status_code:  # 0: no answer; locust has the exception already
                response.failure(f"HTTP {response.status_code}")
            return None

    def _images(self, html_or_urls: str | list[str], limit: int) -> None:
        """What the browser loads for the page: images it has not cached yet (Cache-Control max-age=3600)."""
        urls = _IMAGE.findall(html_or_urls) if isinstance(html_or_urls, str) else html_or_urls
        for url in [u for u in dict.fromkeys(urls) if u not in self.cached][:limit]:
            name = "image: thumbnail" if url.endswith("thumbnail.png") else "image: poster page"
            if self._call("GET", url, name):
                self.cached.add(url)

    def _csrf(self, html: str) -> str:
        found = _CSRF.search(html)
        return found.group(1) if found else ""

    def _page(self, path: str, name: str) -> str | None:
        """A signed-in browser page: the HTML, then the JavaScript asks for the unread count (badge)."""
        response = self._call("GET", path, name)
        if response is None:
            return None
        self.csrf = self._csrf(response.text) or self.csrf
        self._call("GET", "/api/v1/me/notifications?unread=1", "api: notifications unread (badge)")
        return response.text

    def _event(self) -> int:
        return int(CONFIG["event_id"])

    def _project(self) -> int:
        return random.choice(CONFIG["projects"])

    def _search_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if random.random() < 0.75:
            params["q"] = random.choice(CONFIG["queries"])
        if random.random() < 0.5 or not params:
            name = random.choice(sorted(CONFIG["filters"]))
            params[name] = random.choice(CONFIG["filters"][name])
        return params

    # --- arriving and leaving ---------------------------------------------------------------------------
    def arrive(self) -> None:
        self.client.cookies.clear()
        self.client.headers.pop("Authorization", None)
        self.cached: set[str] = set()
        self.csrf = ""
        self.poster: int | None = None
        self.last_status = 0
        self.actions_left = random.randint(*CONFIG.get("session", (10, 40)))
        retry, self.retry = self.retry, None
        if retry is not None:  # the same person again, after a sign-up or sign-in that got no answer
            self.mode, self.email, self.password, role = retry
            self.signed_in = self.sign_up(role, again=True) if role else self.sign_in()
            return
        self.mode = "browser" if random.random() < 0.7 else "api"
        if RETURNING and random.random() < 0.3:
            self.email, self.password = RETURNING.pop(random.randrange(len(RETURNING)))
            self.signed_in = self.sign_in()
            return
        author = random.random() < CONFIG.get("author_share", 0.02)
        if author:
            self.mode = "api"  # uploads from a script; a browser would do the same calls with the CSRF header
        self.email = f"v{secrets.token_hex(6)}@load.insightdays.test"
        self.password = secrets.token_urlsafe(12)
        self.signed_in = self.sign_up("author" if author else "attendee")
        if self.signed_in and author:
            self.add_project()

    def _seat(self) -> None:
        if self.signed_in and not self.seated:
            self.seated = True
            SEATED[0] += 1

    def leave(self) -> None:
        if self.mode == "browser":
            self._call("POST", "/logout", "form: sign out", ok=(302,), data={"csrf_token": self.csrf})
        else:
            self._call("POST", "/api/v1/auth/logout", "api: sign out", ok=(204,))
        RETURNING.append((self.email, self.password))

    def sign_up(self, role: str, again: bool = False) -> bool:
        """A new account (signed in after); `again`: a retry that may find the account made by the first try."""
        person = {
            "email": self.email,
            "password": self.password,
            "display_name": f"Visitor {self.email[1:7]}",
            "organisation": random.choice(CONFIG["filters"]["organisation"]),
            "region": random.choice(CONFIG["filters"]["region"]),
            "role": role,
        }
        if self.mode == "browser":
            form = self._call("GET", "/register", "page: register")
            if form is None:
                return False
            body = {**person, "csrf_token": self._csrf(form.text)}
            done = self._call("POST", "/register", "form: sign up", ok=(302, 400) if again else (302,), data=body)
        else:
            ok = (201, 409) if again else (201,)
            done = self._call("POST", "/api/v1/auth/register", "api: sign up", ok=ok, json=person)
        if done is None:
            if self.last_status == 0 or self.last_status >= 500:  # no answer: the account may exist all the same
                REGISTERED.append({"email": self.email, "password": self.password, "phase": PHASE, "uncertain": True})
                self.retry = (self.mode, self.email, self.password, role)
            return False
        if done.status_code in (400, 409):  # "already registered": the first try did create it
            return self.sign_in()
        REGISTERED.append({"email": self.email, "password": self.password, "phase": PHASE, "via": self.mode})
        if self.mode == "browser":  # signed in by the form; the browser follows the redirect home
            self._page("/", "page: home")
            return True
        return self.api_login()

    def sign_in(self) -> bool:
        if self.mode == "api":
            return self.api_login()
        form = self._call("GET", "/login", "page: sign in")
        if form is None:
            return self._no_answer()
        body = {"email": self.email, "password": self.password, "csrf_token": self._csrf(form.text)}
        if self._call("POST", "/login", "form: sign in", ok=(302,), data=body) is None:
            return self._no_answer()
        self._page("/", "page: home")
        return True

    def api_login(self) -> bool:
        body = {"email": self.email, "password": self.password}
        response = self._call("POST", "/api/v1/auth/login", "api: sign in", json=body)
        if response is None:
            return self._no_answer()
        self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        return True

    def _no_answer(self) -> bool:
        """A sign-in that got no answer: the same person tries again next time."""
        if self.last_status == 0 or self.last_status >= 500:
            self.retry = (self.mode, self.email, self.password, None)
        return False

    def add_project(self) -> None:
        title = f"Load test project by {self.email[:13]}"
        body = {
            "title": title,
            "summary": "What a team learned from routinely collected data, shared at the insight day.",
            "themes": [random.choice(CONFIG["filters"]["theme"])],
            "tools": [random.choice(CONFIG["filters"]["tool"])],
            "learnings": ["Start with the question", "Involve the data owners early", "Publish the code"],
        }
        made = self._call("POST", f"/api/v1/events/{self._event()}/projects", "api: create project", (201,), json=body)
        if made is None:
            return
        project = made.json()["id"]
        files = {"file": ("poster.png", small_poster(title), "image/png")}
        upload = self._call("POST", f"/api/v1/projects/{project}/posters", "api: upload poster", (202,), files=files)
        if upload is not None:
            self.poster = upload.json()["id"]
            UPLOADS.append({"email": self.email, "password": self.password, "poster": self.poster, "phase": PHASE})

    # --- what visitors do -------------------------------------------------------------------------------
    @task
    def act(self) -> None:
        self._seat()
        if not self.signed_in or self.actions_left <= 0:
            if self.signed_in:
                self.leave()
            self.arrive()
            self._seat()
            return
        self.actions_left -= 1
        if self.mode == "browser":
            self.browse()
        else:
            self.use_api()

    def browse(self) -> None:
        roll = random.random()
        event = self._event()
        if roll < 0.30:
            page = random.choice([1, 1, 1, 2, 3])
            html = self._page(f"/events/{event}" + (f"?page={page}" if page > 1 else ""), "page: gallery")
            if html:
                self._images(html, limit=12)
        elif roll < 0.55:
            html = self._page(f"/events/{event}?{_query(self._search_params())}", "page: gallery search")
            if html:
                self._images(html, limit=12)
        elif roll < 0.85:
            html = self._page(f"/projects/{self._project()}", "page: project")
            if html:
                self._images(html, limit=4)
        elif roll < 0.93:
            if self._page("/notifications", "page: notifications"):
                self._call("GET", "/api/v1/me/notifications?page=1", "api: notifications")
                if random.random() < 0.3 and self.csrf:
                    headers = {"X-CSRFToken": self.csrf}
                    self._call("POST", "/api/v1/me/notifications/read-all", "api: read all", headers=headers)
        else:
            self._page("/", "page: home")

    def use_api(self) -> None:
        roll = random.random()
        event = self._event()
        if self.poster is not None:  # an author watches their upload until it is processed
            response = self._call("GET", f"/api/v1/posters/{self.poster}", "api: poster status")
            if response is not None and response.json().get("status") != "processing":
                self.poster = None
            return
        if roll < 0.25:
            params = {"page": str(random.choice([1, 1, 2, 3])), "per_page": "20"}
            response = self._call("GET", f"/api/v1/events/{event}/posters?{_query(params)}", "api: gallery")
            if response is not None:
                thumbs = [c["thumbnail_url"] for c in response.json()["items"] if c.get("thumbnail_url")]
                self._images(thumbs, limit=6)
        elif roll < 0.50:
            query = _query(self._search_params())
            self._call("GET", f"/api/v1/events/{event}/posters?{query}", "api: gallery search")
            self._call("GET", f"/api/v1/events/{event}/facets?{query}", "api: facets")
        elif roll < 0.75:
            project = self._project()
            self._call("GET", f"/api/v1/projects/{project}", "api: project")
            response = self._call("GET", f"/api/v1/projects/{project}/posters", "api: project posters")
            if response is not None:
                pages = [p["url"] for item in response.json()["items"] for p in item.get("pages", [])]
                self._images(pages, limit=2)
        elif roll < 0.82:
            self._call("GET", f"/api/v1/projects/{self._project()}/similar?limit=5", "api: similar projects")
        elif roll < 0.92:
            self._call("GET", "/api/v1/me/notifications", "api: notifications")
        else:
            self._call("GET", "/api/v1/me", "api: me")


def _query(params: dict[str, str]) -> str:
    return urlencode(params)


# --- the headless runner ------------------------------------------------------------------------------------
def say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    global PHASE, START
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--config", required=True, help="JSON written by the seed (event, projects, search words)")
    parser.add_argument("--results", required=True)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=10)
    args = parser.parse_args()
    with open(args.config) as handle:
        CONFIG.update(json.load(handle))

    env = Environment(user_classes=[Visitor], host=args.host, events=events)
    runner = env.create_local_runner()
    START = time.time()
    marks: dict[str, float] = {"ramp": 0.0}
    runner.start(args.users, spawn_rate=args.spawn_rate)
    ramp = args.users / args.spawn_rate
    gevent.sleep(ramp)
    while SEATED[0] < args.users and time.time() - START < ramp + 600:
        gevent.sleep(0.2)  # every seat has a signed-in visitor (sign-ups queue up behind argon2 at the start)
    gevent.sleep(args.settle)  # and what queued up behind them has drained
    PHASE, marks["A"] = "A", time.time() - START
    say(f"PHASE A {marks['A']:.1f}")
    gevent.sleep(args.seconds)
    PHASE, marks["B"] = "B", time.time() - START
    say(f"PHASE B {marks['B']:.1f}")
    gevent.sleep(args.seconds / 2)
    marks["kill"] = time.time() - START
    say(f"KILL {marks['kill']:.1f}")
    gevent.sleep(args.seconds / 2)
    marks["end"] = time.time() - START
    PHASE = "after"  # what is in flight while stopping is not measured
    say(f"END {marks['end']:.1f}")
    runner.quit()
    with open(args.results, "w") as handle:
        json.dump(
            {
                "marks": marks,
                "users": args.users,
                "samples": SAMPLES,
                "registered": REGISTERED,
                "uploads": UPLOADS,
            },
            handle,
        )
    say("DONE")


if __name__ == "__main__":
    sys.exit(main())
