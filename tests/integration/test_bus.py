"""The event bus against a real redis-server: delivery, redelivery, idempotency, durability, dead letters."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.bus import Consumer, Publisher
from shared.db import Database
from shared.events import Envelope, UserRegistered
from shared.inbox import idempotent
from shared.orm import InboxMixin
from tests.support.processes import ROOT, RedisServer, wait_until

pytestmark = pytest.mark.integration


def _registered(user_id: int = 1) -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=f"u{user_id}@example.org",
        display_name="U",
        organisation="O",
        region="R",
        roles=["attendee"],
    ).envelope()


def test_publish_consume_ack(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    seen: list[Envelope] = []
    consumer = Consumer(client, "notify", {"UserRegistered": seen.append}, name="c1")
    consumer.ensure_group()
    sent = _registered(7)
    Publisher(client).publish(sent)

    assert consumer.run_once(block_ms=500) == 1
    assert [e.event_id for e in seen] == [sent.event_id]
    assert seen[0].parse() == sent.parse()
    assert client.xpending(consumer.stream, "notify")["pending"] == 0


def test_each_group_gets_every_event(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    got: dict[str, list[str]] = {"posters": [], "notify": []}
    consumers = [Consumer(client, g, {"UserRegistered": lambda e, g=g: got[g].append(e.event_id)}) for g in got]
    for c in consumers:
        c.ensure_group()
    events = [_registered(i) for i in range(3)]
    for e in events:
        Publisher(client).publish(e)
    for c in consumers:
        c.run_once(block_ms=200)
    assert got["posters"] == got["notify"] == [e.event_id for e in events]


def test_publish_is_at_most_once_per_event_id(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    publisher = Publisher(client)
    event = _registered()
    assert publisher.publish(event) is not None
    assert publisher.publish(event) is None
    assert client.xlen(publisher.stream) == 1


def test_message_of_a_killed_consumer_is_redelivered_to_another(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    # A real consumer process reads the message, then dies (SIGKILL) inside its handler, before XACK.
    script = textwrap.dedent(
        f"""
        import os, signal, redis
        from shared.bus import Consumer
        client = redis.Redis.from_url({redis_url!r}, decode_responses=True)
        def die(envelope):
            client.set("doomed-consumer-got", envelope.event_id)
            os.kill(os.getpid(), signal.SIGKILL)
        c = Consumer(client, "notify", {{"UserRegistered": die}}, name="doomed")
        c.ensure_group()
        while True:
            c.run_once(block_ms=200)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    sent = _registered(3)
    Consumer(client, "notify", {}).ensure_group()
    Publisher(client).publish(sent)
    assert proc.wait(timeout=30) == -9
    assert client.get("doomed-consumer-got") == sent.event_id
    assert client.xpending(Consumer(client, "notify", {}).stream, "notify")["pending"] == 1

    seen: list[str] = []
    survivor = Consumer(
        client,
        "notify",
        {"UserRegistered": lambda e: seen.append(e.event_id)},
        name="survivor",
        claim_idle_ms=50,
    )
    wait_until(lambda: survivor.run_once(block_ms=50) or seen, timeout=10, what="reclaim")
    assert seen == [sent.event_id]
    assert client.xpending(survivor.stream, "notify")["pending"] == 0


class _Base(DeclarativeBase):
    pass


class _Processed(InboxMixin, _Base):
    pass


class _Welcome(_Base):
    __tablename__ = "welcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(200))


def test_same_event_delivered_twice_is_applied_once(redis_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'inbox.db'}")
    _Base.metadata.create_all(db.engine)
    client = redis_server.client()

    def apply(session, event: UserRegistered) -> None:  # type: ignore[no-untyped-def]
        session.add(_Welcome(user_id=event.user_id, email=event.email))

    consumer = Consumer(client, "notify", {"UserRegistered": idempotent(db, _Processed, apply)})
    consumer.ensure_group()
    event = _registered(11)
    publisher = Publisher(client)
    publisher.publish_raw(event)  # the same event twice on the stream, as a resent relay would do
    publisher.publish_raw(event)
    publisher.publish_raw(_registered(12))
    consumer.run_once(block_ms=200)

    with db.unit_of_work() as session:
        welcomes = sorted(w.user_id for w in session.query(_Welcome).all())
    assert welcomes == [11, 12]
    assert consumer.stats.handled == 3
    db.dispose()


def test_redis_restart_between_publish_and_consume_loses_nothing(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    consumer = Consumer(client, "notify", {}, name="c1")
    consumer.ensure_group()
    events = [_registered(i) for i in range(5)]
    for e in events:
        Publisher(client).publish(e)
    # One message read but not acknowledged before the crash: it must still be pending afterwards.
    client.xreadgroup("notify", "c0", {consumer.stream: ">"}, count=1)

    redis_server.restart()

    client = redis_server.client()
    seen: list[str] = []
    consumer = Consumer(
        client, "notify", {"UserRegistered": lambda e: seen.append(e.event_id)}, name="c1", claim_idle_ms=0
    )
    wait_until(lambda: consumer.run_once(block_ms=100) == 0 and len(seen) >= 5, timeout=10, what="all events")
    assert sorted(seen) == sorted(e.event_id for e in events)


def test_poison_message_goes_to_dead_letter_after_max_tries(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    attempts: list[str] = []

    def broken(envelope: Envelope) -> None:
        attempts.append(envelope.event_id)
        raise RuntimeError("handler bug")

    consumer = Consumer(client, "notify", {"UserRegistered": broken}, max_deliveries=3, claim_idle_ms=0)
    consumer.ensure_group()
    poison = _registered(1)
    Publisher(client).publish(poison)
    for _ in range(6):
        consumer.run_once(block_ms=20)

    assert len(attempts) == 3
    dead = client.xrange(consumer.dead_letter_stream)
    assert len(dead) == 1
    assert Envelope.from_json(dead[0][1]["event"]).event_id == poison.event_id
    assert dead[0][1]["group"] == "notify"
    assert client.xpending(consumer.stream, "notify")["pending"] == 0


def test_malformed_message_is_dead_lettered_not_retried(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    consumer = Consumer(client, "notify", {})
    consumer.ensure_group()
    client.xadd(consumer.stream, {"event": "{not json"})
    consumer.run_once(block_ms=50)
    assert client.xlen(consumer.dead_letter_stream) == 1
    assert client.xpending(consumer.stream, "notify")["pending"] == 0


def test_events_published_before_the_group_existed_are_delivered(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    early = _registered(1)
    Publisher(client).publish(early)
    seen: list[str] = []
    consumer = Consumer(client, "late-service", {"UserRegistered": lambda e: seen.append(e.event_id)})
    consumer.ensure_group()
    consumer.run_once(block_ms=50)
    assert seen == [early.event_id]
