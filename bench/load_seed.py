"""Seed an insight day for the load test through the public API: an organiser (CLI, as `make run` does), the day,
authors with projects (varied themes, tools, organisations, regions) and PNG posters, waited until ready.

Reuses scripts/seed_demo.py (retry, login, poster_png). Returns what the simulated users need to know.
"""

from __future__ import annotations

import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from seed_demo import login, poster_png, retry  # noqa: E402

ACTIONS = ["Linking", "Predicting", "Mapping", "Forecasting", "Measuring", "Visualising", "Reducing", "Explaining"]
SUBJECTS = [
    "missed appointments",
    "hospital admissions",
    "waiting lists",
    "air quality and asthma",
    "emergency attendances",
    "social care records",
    "vaccination uptake",
    "prescribing patterns",
    "staff turnover",
    "bed occupancy",
    "diabetes outcomes",
    "falls in care homes",
]
THEMES = [
    "data linkage",
    "primary care",
    "machine learning",
    "public health",
    "dashboards",
    "privacy",
    "mental health",
    "environment",
    "workforce",
]
TOOLS = ["Python", "R", "SQL", "Power BI", "Spark", "Stata", "OpenSAFELY", "Excel"]
ORGANISATIONS = [
    "North Health Trust",
    "City Council Public Health",
    "University of the Midlands",
    "Coastal Care Board",
    "Valley Hospitals",
    "Regional Analytics Unit",
    "Southern Primary Care Network",
    "Highlands Health Board",
]
REGIONS = ["North", "London", "Midlands", "South West", "East", "Wales", "Scotland"]
# What attendees type: words from titles and summaries, a few phrases, a typo-ish miss and a word nobody used.
QUERIES = [
    "appointments",
    "waiting",
    "asthma",
    "linkage",
    "vaccination",
    "prescribing",
    "care homes",
    "hospital admissions",
    "dashboard",
    "forecast",
    "diabetes",
    "staff",
    "machine learning",
    "records",
    "zebra",
]


def _organiser(url: str, env: dict[str, str], email: str, password: str) -> requests.Session:
    subprocess.run(
        [
            str(Path(sys.executable).parent / "flask"),
            "--app",
            "services.gateway",
            "create-organiser",
            email,
            "--password",
            password,
            "--name",
            "Load Organiser",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return login(url, email, password)


def seed(
    url: str, env: dict[str, str], projects: int = 60, with_posters: int = 20, authors: int = 20
) -> dict[str, Any]:
    rng = random.Random(7)
    password = secrets.token_urlsafe(12)
    organiser = _organiser(url, env, "organiser@load.insightdays.test", password)
    day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    created = retry(
        lambda: organiser.post(
            f"{url}/api/v1/events",
            json={
                "title": "Load test insight day",
                "starts_at": day.isoformat(),
                "ends_at": (day + timedelta(hours=7)).isoformat(),
                "timezone": "Europe/London",
            },
        ),
        "create event",
    )
    created.raise_for_status()
    event_id = created.json()["id"]

    sessions = []
    for i in range(authors):
        email = f"author{i}@load.insightdays.test"
        registered = requests.post(
            f"{url}/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "display_name": f"Author {i}",
                "organisation": ORGANISATIONS[i % len(ORGANISATIONS)],
                "region": REGIONS[i % len(REGIONS)],
                "role": "author",
            },
            timeout=30,
        )
        registered.raise_for_status()
        sessions.append(login(url, email, password))

    made: list[dict[str, Any]] = []
    posters: list[int] = []
    for i in range(projects):
        author = sessions[i % authors]
        subject = SUBJECTS[i % len(SUBJECTS)]
        title = f"{rng.choice(ACTIONS)} {subject} ({i + 1})"
        body = {
            "title": title,
            "summary": (
                f"{title}: how we used routinely collected data on {subject} to answer a question our "
                f"{rng.choice(['managers', 'clinicians', 'commissioners', 'patients'])} asked, what worked and "
                f"what we would do differently. Methods: {', '.join(rng.sample(TOOLS, 2))}; "
                f"{rng.choice(SUBJECTS)} as a comparison."
            ),
            "themes": rng.sample(THEMES, rng.randint(1, 3)),
            "tools": rng.sample(TOOLS, rng.randint(1, 3)),
            "learnings": ["Start with the question", "Involve the data owners early", "Publish the code"],
            "questions": [f"Who else has looked at {subject}?"],
        }
        project = retry(lambda a=author, b=body: a.post(f"{url}/api/v1/events/{event_id}/projects", json=b), title)
        if project.status_code != 201:
            raise SystemExit(f"load seed: project {title!r} not created: {project.text[:300]}")
        project_id = project.json()["id"]
        made.append({"id": project_id, "title": title})
        if i < with_posters:
            organisation = ORGANISATIONS[(i % authors) % len(ORGANISATIONS)]
            upload = author.post(
                f"{url}/api/v1/projects/{project_id}/posters",
                files={"file": ("poster.png", poster_png(title, organisation), "image/png")},
                timeout=60,
            )
            if upload.status_code != 202:
                raise SystemExit(f"load seed: poster upload failed: {upload.status_code} {upload.text[:300]}")
            posters.append(upload.json()["id"])

    deadline = time.monotonic() + 600
    waiting = set(posters)
    while waiting and time.monotonic() < deadline:
        for poster_id in list(waiting):
            status = organiser.get(f"{url}/api/v1/posters/{poster_id}", timeout=30).json().get("status")
            if status != "processing":
                waiting.discard(poster_id)
        time.sleep(0.5)
    if waiting:
        raise SystemExit(f"load seed: posters still processing after 10 min: {sorted(waiting)}")
    return {
        "event_id": event_id,
        "projects": [p["id"] for p in made],
        "posters": posters,
        "queries": QUERIES,
        "filters": {
            "theme": THEMES,
            "tool": TOOLS,
            "organisation": ORGANISATIONS,
            "region": REGIONS,
        },
    }
