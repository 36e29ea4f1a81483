"""Seed a demo insight day through the public API, the way an organiser and authors would.

Idempotent: a second run finds the demo day and changes nothing. Credentials are generated once and kept in
var/demo-credentials.json (demo data, not a secret of the deployment).
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = ROOT / "var" / "demo-credentials.json"
DEMO_TITLE = "Demo insight day: health data in practice"
ORGANISER = "organiser@demo.insightdays.local"
AUTHORS = [
    (
        "ada@demo.insightdays.local",
        "Ada Lovelace",
        "North Health Trust",
        "North",
        "Linking GP and hospital records",
        ["data linkage", "primary care"],
        ["SQL", "OpenSAFELY"],
    ),
    (
        "grace@demo.insightdays.local",
        "Grace Hopper",
        "City Council Public Health",
        "London",
        "A dashboard for air quality and asthma",
        ["environment", "dashboards"],
        ["Python", "Power BI"],
    ),
    (
        "alan@demo.insightdays.local",
        "Alan Turing",
        "University of the Midlands",
        "Midlands",
        "Predicting missed appointments fairly",
        ["machine learning", "primary care"],
        ["Python", "R"],
    ),
]


def credentials() -> dict[str, str]:
    if CREDENTIALS.exists():
        return json.loads(CREDENTIALS.read_text())
    creds = {"password": secrets.token_urlsafe(12)}
    CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
    CREDENTIALS.write_text(json.dumps(creds))
    CREDENTIALS.chmod(0o600)
    return creds


def wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=5).ok:
                return
        except requests.RequestException:
            pass  # not listening yet, or still booting
        time.sleep(0.5)
    raise SystemExit(f"seed: gateway at {url} did not come up")


def retry(call, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Retry while the other services start or the event has not reached them through the bus yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = call()
            if response.status_code < 500 and response.status_code != 404:
                return response
        except requests.RequestException:
            response = None
        if time.monotonic() > deadline:
            detail = response.text[:200] if response is not None else "no connection"
            raise SystemExit(f"seed: {what} failed: {detail}")
        time.sleep(0.5)


def login(url: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    response = retry(
        lambda: session.post(f"{url}/api/v1/auth/login", json={"email": email, "password": password}), f"login {email}"
    )
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


def poster_png(title: str, organisation: str) -> bytes:
    image = Image.new("RGB", (1200, 1700), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1200, 220), fill="#1d4e89")
    draw.text((60, 80), title, fill="white", font_size=48)
    draw.text((60, 300), organisation, fill="#1d4e89", font_size=36)
    for i, line in enumerate(("Aim", "Method", "What we learned", "Open questions")):
        draw.text((60, 420 + i * 300), line, fill="#333", font_size=40)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def seed(url: str) -> None:
    password = credentials()["password"]
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "flask"),
            "--app",
            "services.gateway",
            "create-organiser",
            ORGANISER,
            "--password",
            password,
            "--name",
            "Demo Organiser",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    organiser = login(url, ORGANISER, password)
    events = retry(lambda: organiser.get(f"{url}/api/v1/events"), "list events").json()["items"]
    if any(e["title"] == DEMO_TITLE for e in events):
        print(f"seed: demo data already there; sign in at {url} as {ORGANISER} / {password}")
        return
    day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    created = retry(
        lambda: organiser.post(
            f"{url}/api/v1/events",
            json={
                "title": DEMO_TITLE,
                "starts_at": day.isoformat(),
                "ends_at": (day + timedelta(hours=7)).isoformat(),
                "timezone": "Europe/London",
            },
        ),
        "create event",
    )
    created.raise_for_status()
    event_id = created.json()["id"]

    for email, name, organisation, region, title, themes, tools in AUTHORS:
        requests.post(
            f"{url}/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "display_name": name,
                "organisation": organisation,
                "region": region,
                "role": "author",
            },
            timeout=10,
        )
        author = login(url, email, password)
        body = {
            "title": title,
            "summary": f"{title}: what {organisation} did, what worked and what we would do differently.",
            "themes": themes,
            "tools": tools,
            "learnings": ["Start with the question", "Involve the data owners early", "Publish the code"],
            "questions": ["Who else has tried this?"],
        }
        project = retry(
            lambda a=author, b=body: a.post(f"{url}/api/v1/events/{event_id}/projects", json=b),
            f"create project {title}",
        )
        if project.status_code != 201:
            print(f"seed: project {title!r} not created: {project.text[:200]}", file=sys.stderr)
            continue
        project_id = project.json()["id"]
        author.post(
            f"{url}/api/v1/projects/{project_id}/posters",
            files={"file": ("poster.png", poster_png(title, organisation), "image/png")},
            timeout=30,
        )
    print(f"seed: demo insight day ready at {url}")
    print(f"seed: organiser {ORGANISER} / {password}; authors {', '.join(a[0] for a in AUTHORS)} (same password)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--wait", action="store_true", help="wait for the gateway to come up first")
    args = parser.parse_args()
    if args.wait:
        wait_for(args.url)
    seed(args.url)


if __name__ == "__main__":
    main()
