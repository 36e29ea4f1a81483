"""`flask --app services.matching solve INSTANCE.json --out ASSIGNMENT.json` as a real process: solves a generated
file, exits 1 with worded reasons for a day that cannot be scheduled and 2 naming the field of a malformed one.
Redis is pointed at a closed port: the command must not need it (nor a database)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from services.matching.assignment.domain import evaluate, parse_instance, violations
from services.matching.assignment.generate import Shape, generate

pytestmark = pytest.mark.integration

FLASK = Path(sys.executable).parent / "flask"
ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(APP_ENV="test", VAR_DIR=str(tmp_path / "var"), REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")

    def solve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FLASK), "--app", "services.matching", "solve", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    return solve


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_solves_a_generated_instance(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = generate(Shape(400, 20, 12, 4, 10), seed=3).to_json()
    instance_file = write(tmp_path / "instance.json", data)
    out = tmp_path / "assignment.json"
    done = run(str(instance_file), "--out", str(out), "--seed", "3")
    assert done.returncode == 0, done.stderr
    for label in ("objective:", "bound:", "objective / bound:", "time:", "peak memory:"):
        assert label in done.stdout
    assert "ru_maxrss" in done.stdout  # says what the memory figure is

    assignment = json.loads(out.read_text())
    instance = parse_instance(data)
    assert list(assignment) == [a["id"] for a in data["attendees"]]
    assert all(len(got) == len(data["slots"]) for got in assignment.values())
    assert violations(instance, assignment) == []
    printed = float(re.search(r"^objective: ([\d.]+)$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    bound = float(re.search(r"^bound: ([\d.]+) ", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert printed == pytest.approx(evaluate(instance, assignment).objective, abs=1e-3)
    assert printed <= bound + 1e-3

    again = tmp_path / "again.json"
    assert run(str(instance_file), "--out", str(again), "--seed", "3").returncode == 0
    assert again.read_text() == out.read_text()  # same seed, same assignment


def test_locks_file_is_respected(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = generate(Shape(120, 8, 8, 3, 6), seed=1).to_json()
    slots = data["slots"]
    locks = {
        "p1": {slots[0]["id"]: slots[0]["breakouts"][-1]["id"]},
        "p2": {slots[2]["id"]: slots[2]["breakouts"][0]["id"]},
    }
    out = tmp_path / "assignment.json"
    done = run(
        str(write(tmp_path / "i.json", data)), "--out", str(out), "--locks", str(write(tmp_path / "locks.json", locks))
    )
    assert done.returncode == 0, done.stderr
    assignment = json.loads(out.read_text())
    assert assignment["p1"][0] == slots[0]["breakouts"][-1]["id"]
    assert assignment["p2"][2] == slots[2]["breakouts"][0]["id"]


def test_a_day_that_cannot_be_scheduled_exits_1_with_reasons(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    attendees = [
        {"id": f"p{i}", "org": f"org {i % 20}", "region": "North", "prefs": {"data linkage": 0.9, "ethics": 0.4}}
        for i in range(140)
    ]
    data = {
        "org_share": 0.3,
        "themes": ["data linkage", "ethics"],
        "slots": [
            {
                "id": "am",
                "breakouts": [
                    {"id": "am-dl", "theme": "data linkage", "capacity": 30},
                    {"id": "am-eth", "theme": "ethics", "capacity": 150},
                ],
            },
            {
                "id": "pm",
                "breakouts": [
                    {"id": "pm-dl", "theme": "data linkage", "capacity": 30},
                    {"id": "pm-eth", "theme": "ethics", "capacity": 150},
                ],
            },
        ],
        "attendees": attendees,
    }
    out = tmp_path / "assignment.json"
    done = run(str(write(tmp_path / "i.json", data)), "--out", str(out))
    assert done.returncode == 1
    assert "theme 'data linkage': 140 ranked it first, 60 places in total" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (
            '{"org_share": 0.3, "themes": ["a"], "slots": [{"id": "s", "breakouts": '
            '[{"id": "b", "theme": "a", "capacity": -3}]}], "attendees": []}',
            "slots[0].breakouts[0].capacity",
        ),
        (
            '{"org_share": 0.3, "themes": ["a"], "slots": [{"id": "s", "breakouts": '
            '[{"id": "b", "theme": "a", "capacity": 3}]}], "attendees": [{"id": 1, "org": "o", "prefs": {"a": 7}}]}',
            "attendees[0].prefs['a']",
        ),
        ('{"themes": [', "instance: not valid JSON"),
    ],
)
def test_malformed_input_exits_2_naming_the_field(run, tmp_path: Path, content: str, field: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "i.json"
    path.write_text(content)
    done = run(str(path), "--out", str(tmp_path / "o.json"))
    assert done.returncode == 2
    assert field in done.stderr
