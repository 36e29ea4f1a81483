"""Drills: the real bus processes of every service while Redis stalls, crashes, comes back empty, a bus process
is SIGKILLed, or the database goes away. Each drill counts what arrived: every event reaches every consumer
group exactly once in effect, nothing is dead-lettered, and the health probe recovers by itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from services.gateway.adapters.orm import Outbox as GatewayOutbox
from services.matching.domain.insight_day import Schedule
from services.matching.service import create_insight_day
from shared import outbox
from shared.auth import Identity
from shared.bus import DEAD_LETTER_SUFFIX, EVENTS_STREAM, Publisher
from shared.db import Database
from shared.events import UserRegistered
from tests.support.identity import identity_header
from tests.support.postgres import PostgresServer
from tests.support.processes import (
    ROOT,
    VENV_BIN,
    Process,
    RedisServer,
    flask_command,
    free_port,
    run_migrations,
    service_env,
    wait_until,
)

pytestmark = pytest.mark.integration

SERVICES = ("gateway", "posters", "matching", "notify")
START = datetime(2026, 12, 1, 9, tzinfo=UTC)
DRILL_SETTINGS = {
    "BUS_CLAIM_IDLE_MS": "2000",  # a dead consumer's messages are taken over after 2 s, not 30
    "BUS_STALL_S": "3",
    "SECRET_KEY": "drill-secret-key",
}


@dataclass
class BusStack:
    redis: RedisServer
    env: dict[str, str]
    var: Path
    log_dir: Path
    dbs: dict[str, Database]
    buses: dict[str, Process] = field(default_factory=dict)
    users: int = 0
    days: int = 0

    def start_bus(self, service: str, name: str | None = None) -> Process:
        if name:  # a second instance: its own log file
            args = [str(VENV_BIN / "flask"), "--app", f"services.{service}", "bus"]
            process = Process(name, args, self.env, self.log_dir)
        else:
            process = flask_command(service, "bus", self.env, self.log_dir)
        self.buses[name or service] = process
        return process

    # --- producing: what a registration and an organiser's new day write, change and event together ---------
    def register_users(self, n: int) -> None:
        with self.dbs["gateway"].unit_of_work() as session:
            for _ in range(n):
                self.users += 1
                outbox.record(
                    session,
                    GatewayOutbox,
                    UserRegistered(self.users, f"u{self.users}@example.org", "P", "Org", "North", ["attendee"]),
                )

    def create_days(self, n: int) -> None:
        for _ in range(n):
            self.days += 1
            schedule = Schedule.of(START, START + timedelta(hours=8), "Europe/London")
            create_insight_day(self.dbs["matching"], organiser_id=1, title=f"Day {self.days}", schedule=schedule)

    # --- counting -------------------------------------------------------------------------------------------
    def scalar(self, service: str, sql: str) -> int:
        with self.dbs[service].engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)

    def arrived(self) -> dict[str, int]:
        return {
            "welcomes": self.scalar("notify", "SELECT count(*) FROM notifications"),
            "users_welcomed_twice": self.scalar(
                "notify",
                "SELECT count(*) FROM (SELECT user_id FROM notifications GROUP BY user_id HAVING count(*) > 1)",
            ),
            "days_in_posters": self.scalar("posters", "SELECT count(*) FROM known_events"),
            "days_in_notify": self.scalar("notify", "SELECT count(*) FROM known_events"),
            "people_in_matching": self.scalar("matching", "SELECT count(*) FROM people"),
        }

    def expected(self) -> dict[str, int]:
        return {
            "welcomes": self.users,
            "users_welcomed_twice": 0,
            "days_in_posters": self.days,
            "days_in_notify": self.days,
            "people_in_matching": self.users,
        }

    def wait_all_arrived(self, timeout: float = 60) -> None:
        try:
            wait_until(lambda: self.arrived() == self.expected(), timeout=timeout, interval=0.2, what="every event")
        except TimeoutError:
            raise AssertionError(f"arrived {self.arrived()} != expected {self.expected()}\n{self.logs()}") from None

    def dead_letters(self) -> int:
        return int(self.redis.client().xlen(EVENTS_STREAM + DEAD_LETTER_SUFFIX))

    def probe(self, service: str) -> int:
        env = {**self.env, "REDIS_URL": self.redis.url}
        return subprocess.run(
            [sys.executable, "-m", "shared.probe", "bus", service], cwd=ROOT, env=env, capture_output=True
        ).returncode

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-2500:]}" for n, p in self.buses.items())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusStack]:
    tmp = tmp_path_factory.mktemp("drills")
    redis_server = RedisServer(tmp / "redis", appendfsync="everysec")  # as compose and `make run` configure it
    redis_server.start()
    env = service_env(redis_server.url, tmp / "var", **DRILL_SETTINGS)
    for service in SERVICES:
        run_migrations(service, env)
    dbs = {s: Database(f"sqlite:///{tmp / 'var' / (s + '.db')}") for s in SERVICES}
    stack = BusStack(redis_server, env, tmp / "var", tmp, dbs)
    try:
        for service in SERVICES:
            stack.start_bus(service)
        wait_until(lambda: all(stack.probe(s) == 0 for s in SERVICES), timeout=30, what="healthy bus processes")
        yield stack
    finally:
        for process in stack.buses.values():
            process.terminate()
        for process in stack.buses.values():
            process.stop()
        for db in dbs.values():
            db.dispose()
        redis_server.stop()


def _consumer_name(process: Process) -> str | None:
    """The consumer name a bus process logged when it started (its pid as the process itself sees it)."""
    for line in process.output().splitlines():
        if '"consumer started"' in line:
            return json.loads(line)["consumer"]
    return None


def _pids(stack: BusStack) -> dict[str, int]:
    return {name: p.proc.pid for name, p in stack.buses.items() if p.alive()}


def test_redis_stalled_8_seconds(stack: BusStack) -> None:
    stack.register_users(20)
    stack.create_days(2)
    stack.wait_all_arrived()
    pids = _pids(stack)

    stack.redis.client().execute_command("CLIENT", "PAUSE", "8000", "ALL")
    paused_at = time.monotonic()
    stack.register_users(15)  # written to the databases while Redis answers nobody
    stack.create_days(2)
    time.sleep(max(0.0, 8.5 - (time.monotonic() - paused_at)))
    stack.register_users(15)

    stack.wait_all_arrived()
    assert _pids(stack) == pids, "a bus process died"
    assert stack.dead_letters() == 0
    wait_until(lambda: all(stack.probe(s) == 0 for s in SERVICES), timeout=30, what="health after the stall")


def test_redis_killed_and_restarted_from_its_aof(stack: BusStack) -> None:
    stack.register_users(10)
    pids = _pids(stack)
    stack.redis.restart()  # SIGKILL, then start from the append-only file
    stack.register_users(10)
    stack.create_days(1)

    stack.wait_all_arrived()
    assert _pids(stack) == pids
    assert stack.dead_letters() == 0
    wait_until(lambda: all(stack.probe(s) == 0 for s in SERVICES), timeout=30, what="health after the restart")


def test_redis_restarted_empty(stack: BusStack) -> None:
    stack.register_users(5)
    stack.wait_all_arrived()
    pids = _pids(stack)
    stack.redis.restart_empty()  # stream, consumer groups, publish-once keys: all gone
    stack.register_users(10)
    stack.create_days(1)

    stack.wait_all_arrived()  # the relays sent their retained rows again; consumers skipped what they had
    assert _pids(stack) == pids
    assert stack.dead_letters() == 0
    client = stack.redis.client()
    groups = {"gateway", "posters", "matching", "notify"}  # gateway: chat rooms from ChatSlotBooked
    wait_until(lambda: {g["name"] for g in client.xinfo_groups(EVENTS_STREAM)} == groups, what="every group back")
    wait_until(lambda: all(stack.probe(s) == 0 for s in SERVICES), timeout=30, what="health after the restart")


def test_a_killed_bus_process_leaves_its_pending_messages_to_another(stack: BusStack) -> None:
    second = stack.start_bus("notify", name="notify-2")
    victim = stack.buses["notify"]
    client = stack.redis.client()
    consumer_of_victim = _consumer_name(victim)
    wait_until(lambda: _consumer_name(second), timeout=30, what="the second notify bus process consuming")

    publisher = Publisher(client)
    base = stack.users
    for i in range(1, 401):
        publisher.publish(
            UserRegistered(base + i, f"u{base + i}@example.org", "P", "Org", "North", ["attendee"]).envelope()
        )
    stack.users += 400

    def victim_holds_messages() -> bool:
        return any(
            c["name"] == consumer_of_victim and int(c["pending"]) > 0
            for c in client.xinfo_consumers(EVENTS_STREAM, "notify")
        )

    wait_until(victim_holds_messages, timeout=30, interval=0.01, what="the victim to hold messages")
    victim.kill(signal.SIGKILL)
    left = {c["name"]: int(c["pending"]) for c in client.xinfo_consumers(EVENTS_STREAM, "notify")}

    stack.wait_all_arrived()
    assert second.alive()
    assert client.xpending(EVENTS_STREAM, "notify")["pending"] == 0
    assert stack.dead_letters() == 0
    print(f"pending on the killed consumer when it died: {left.get(consumer_of_victim)}")
    stack.buses["notify"] = stack.buses.pop("notify-2")


@pytest.fixture
def postgres_notify(tmp_path: Path) -> Iterator[tuple[PostgresServer, dict[str, str], Path]]:
    server = PostgresServer()
    server.start()
    try:
        yield server, {"NOTIFY_DATABASE_URL": server.create_database("notify_drill")}, tmp_path
    finally:
        server.stop()


def test_database_down_for_20_seconds(postgres_notify, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, urls, tmp = postgres_notify
    redis_server = RedisServer(tmp / "redis")
    redis_server.start()
    env = service_env(redis_server.url, tmp / "var", **DRILL_SETTINGS, **urls)
    run_migrations("notify", env)
    port = free_port()
    web = Process(
        "notify-web",
        [
            str(VENV_BIN / "gunicorn"),
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "services.notify:create_app()",
        ],
        env,
        tmp,
    )
    bus = flask_command("notify", "bus", env, tmp)
    db = Database(urls["NOTIFY_DATABASE_URL"])
    identity = Identity(
        user_id=1, email="u1@example.org", display_name="P", organisation="O", region="N", roles=["attendee"]
    )
    url = f"http://127.0.0.1:{port}/api/v1/me/notifications"

    def headers() -> dict[str, str]:
        return identity_header(tmp / "var", "notify", identity)

    def welcomes() -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM notifications")).scalar() or 0)

    publisher = Publisher(redis_server.client())
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok, timeout=30, what="notify")
        for i in range(1, 11):
            publisher.publish(UserRegistered(i, f"u{i}@example.org", "P", "Org", "North", ["attendee"]).envelope())
        wait_until(lambda: welcomes() == 10, timeout=30, what="welcomes before the outage")

        server.halt()
        down_at = time.monotonic()
        for i in range(11, 41):
            publisher.publish(UserRegistered(i, f"u{i}@example.org", "P", "Org", "North", ["attendee"]).envelope())
        answer = requests.get(url, headers=headers(), timeout=30)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert answer.headers["Retry-After"]
        write = requests.post(f"{url}/read-all", headers=headers(), timeout=30)
        assert write.status_code == 503, write.text  # a write is refused cleanly, never a 500
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["database"].startswith("error")
        wait_until(lambda: redis_server_probe(env) != 0, timeout=30, what="the bus probe to report the outage")
        time.sleep(max(0.0, 20 - (time.monotonic() - down_at)))
        assert bus.alive()
        assert redis_server.client().xlen(EVENTS_STREAM + DEAD_LETTER_SUFFIX) == 0

        server.resume()
        wait_until(lambda: welcomes() == 40, timeout=60, what="every welcome after the outage")
        assert requests.get(url, headers=headers(), timeout=10).status_code == 200
        assert redis_server.client().xlen(EVENTS_STREAM + DEAD_LETTER_SUFFIX) == 0
        assert redis_server.client().xpending(EVENTS_STREAM, "notify")["pending"] == 0
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(DISTINCT user_id) FROM notifications")).scalar() == 40
        wait_until(lambda: redis_server_probe(env) == 0, timeout=30, what="the bus probe healthy again")
    except Exception:
        print(web.output()[-3000:], bus.output()[-3000:])
        raise
    finally:
        for process in (web, bus):
            process.terminate()
        for process in (web, bus):
            process.stop()
        db.dispose()
        redis_server.stop()


def redis_server_probe(env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-m", "shared.probe", "bus", "notify"], cwd=ROOT, env=env, capture_output=True
    ).returncode
