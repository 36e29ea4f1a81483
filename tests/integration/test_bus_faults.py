"""The bus under faults, against a real redis-server: stalls, vanished streams, outages, backlogs, restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update

from services.gateway.adapters.orm import Outbox as GatewayOutbox
from services.notify.adapters.orm import Notification
from services.notify.adapters.orm import Outbox as NotifyOutbox
from services.notify.adapters.orm import ProcessedEvent as NotifyProcessed
from services.notify.consumers import handlers as notify_handlers
from shared import outbox
from shared.bus import EVENTS_STREAM, Consumer, Publisher
from shared.bus_housekeeping import purge_rows, safe_trim_id, trim_stream
from shared.dead_letters import DeadLetters
from shared.events import Envelope, UserRegistered, utcnow
from shared.outbox import OutboxRelay
from tests.support.processes import RedisServer, wait_until

pytestmark = pytest.mark.integration


def registered(user_id: int) -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=f"u{user_id}@example.org",
        display_name=f"Person {user_id}",
        organisation="Org A",
        region="North",
        roles=["attendee"],
    ).envelope()


@pytest.fixture
def running() -> Iterator[Callable[[Consumer], threading.Thread]]:
    """Start consumers' run_forever in threads; stop and join them after the test."""
    started: list[tuple[Consumer, threading.Thread]] = []

    def start(consumer: Consumer) -> threading.Thread:
        thread = threading.Thread(target=consumer.run_forever, daemon=True)
        thread.start()
        started.append((consumer, thread))
        return thread

    yield start
    for consumer, thread in started:
        consumer.stop()
        thread.join(timeout=10)


def test_consumer_survives_a_redis_stall(redis_url: str, redis_server: RedisServer, running) -> None:  # type: ignore[no-untyped-def]
    # The same kind of client the bus uses: a socket timeout turns a stall into redis.TimeoutError.
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=1.0)
    seen: list[str] = []
    consumer = Consumer(client, "notify", {"UserRegistered": lambda e: seen.append(e.event_id)}, block_ms=200)
    thread = running(consumer)
    before = [registered(i) for i in range(5)]
    for e in before:
        Publisher(redis_server.client()).publish(e)
    wait_until(lambda: len(seen) == 5, what="events before the stall")

    redis_server.client().execute_command("CLIENT", "PAUSE", "3000", "ALL")
    wait_until(lambda: consumer.health.errors > 0, timeout=10, what="the stall to hit the consumer")
    after = [registered(i) for i in range(5, 10)]
    publisher = Publisher(redis_server.client())
    for e in after:
        publisher.publish(e)  # blocks until the pause ends

    wait_until(lambda: len(seen) == 10, timeout=20, what="events after the stall")
    assert thread.is_alive()
    assert sorted(seen) == sorted(e.event_id for e in before + after)


def test_consumer_recreates_its_group_when_the_stream_vanishes(
    redis_url: str, redis_server: RedisServer, running
) -> None:  # type: ignore[no-untyped-def]
    client = redis_server.client()
    seen: list[str] = []
    consumer = Consumer(client, "notify", {"UserRegistered": lambda e: seen.append(e.event_id)}, block_ms=200)
    thread = running(consumer)
    Publisher(client).publish(registered(1))
    wait_until(lambda: len(seen) == 1, what="first event")

    client.delete(EVENTS_STREAM)  # stream and group gone, as after a Redis that lost its data
    wait_until(lambda: consumer.health.errors > 0, timeout=10, what="NOGROUP/UNBLOCKED seen")
    late = [registered(i) for i in range(2, 5)]
    for e in late:
        Publisher(client).publish(e)

    wait_until(lambda: len(seen) == 4, timeout=20, what="events after the stream came back")
    assert thread.is_alive()
    assert seen[1:] == [e.event_id for e in late]
    assert {g["name"] for g in client.xinfo_groups(EVENTS_STREAM)} == {"notify"}


class _Outage:
    """A dependency (think: the database) that is down until `end()`; handlers and probes see the same state."""

    def __init__(self) -> None:
        self.down = True
        self.attempts: list[str] = []

    def check(self) -> None:
        if self.down:
            raise sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))

    def end(self) -> None:
        self.down = False


def test_an_outage_is_waited_out_without_new_work_or_dead_letters(
    redis_url: str, redis_server: RedisServer, running
) -> None:  # type: ignore[no-untyped-def]
    client = redis_server.client()
    outage = _Outage()
    applied: list[str] = []

    def handler(envelope: Envelope) -> None:
        outage.attempts.append(envelope.event_id)
        outage.check()
        applied.append(envelope.event_id)

    def replica(name: str) -> Consumer:
        return Consumer(
            client,
            "notify",
            {"UserRegistered": handler},
            name=name,
            block_ms=100,
            max_deliveries=2,
            claim_idle_ms=1500,  # short: if the outage counted as deliveries, this would dead-letter within seconds
            dependencies=[outage.check],
        )

    consumers = [replica("a"), replica("b")]  # two bus processes of one service
    consumers[0].ensure_group()
    events = [registered(i) for i in range(20)]
    for e in events:
        Publisher(client).publish(e)
    running(consumers[0])  # reads all 20 in one batch and meets the outage on the first
    wait_until(lambda: consumers[0].stats.outage_waits == 1, what="the consumer to notice the outage")
    running(consumers[1])  # an idle replica that takes over whatever stays idle for 1.5 s

    threading.Event().wait(5.0)  # the outage lasts over three claim-idle periods; nothing new may be taken meanwhile
    assert set(outage.attempts) == {events[0].event_id}
    pending = client.xpending_range(EVENTS_STREAM, "notify", "-", "+", 100)
    # The rest of the batch is held by the waiting consumer, never taken over by the replica: 1 delivery each.
    assert len(pending) == 20 and {p["times_delivered"] for p in pending} == {1}
    assert {p["consumer"] for p in pending} == {"a"}

    outage.end()
    expected = {e.event_id for e in events}
    wait_until(lambda: set(applied) == expected, timeout=30, what="everything after the outage")
    assert len(applied) == 20  # each applied once
    assert client.xlen(consumers[0].dead_letter_stream) == 0
    assert client.xpending(EVENTS_STREAM, "notify")["pending"] == 0


def test_a_transient_error_with_dependencies_up_counts_as_a_failed_delivery(
    redis_url: str, redis_server: RedisServer
) -> None:
    client = redis_server.client()

    def locked(_envelope: Envelope) -> None:
        raise sa_exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))

    consumer = Consumer(
        client, "notify", {"UserRegistered": locked}, max_deliveries=2, claim_idle_ms=0, quick_retries=1
    )
    consumer.ensure_group()
    Publisher(client).publish(registered(1))
    for _ in range(4):
        consumer.run_once(block_ms=20)
    assert consumer.stats.failed == 2
    assert client.xlen(consumer.dead_letter_stream) == 1  # a message that keeps failing is not held forever


def test_a_backlog_is_reclaimed_a_page_at_a_time(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    Consumer(client, "notify", {}).ensure_group()
    for i in range(120):
        Publisher(client).publish(registered(i))
    client.xreadgroup("notify", "dead-consumer", {EVENTS_STREAM: ">"}, count=120)  # read, never acked

    seen: list[str] = []
    survivor = Consumer(
        client, "notify", {"UserRegistered": lambda e: seen.append(e.event_id)}, claim_idle_ms=0, reclaim_page=50
    )
    pages = [survivor.run_once(block_ms=10) for _ in range(4)]
    assert pages == [50, 50, 20, 0]
    assert len(set(seen)) == 120
    assert client.xpending(EVENTS_STREAM, "notify")["pending"] == 0


def test_trimming_keeps_what_any_group_still_needs(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_server.client()
    for group in ("posters", "notify"):
        Consumer(client, group, {}).ensure_group()
    ids = [Publisher(client).publish(registered(i)) for i in range(100)]
    # posters is done with everything; notify read 60 and acknowledged 50 of them.
    client.xreadgroup("posters", "p", {EVENTS_STREAM: ">"}, count=100)
    client.xack(EVENTS_STREAM, "posters", *ids)
    client.xreadgroup("notify", "n", {EVENTS_STREAM: ">"}, count=60)
    client.xack(EVENTS_STREAM, "notify", *ids[:50])

    assert trim_stream(client, EVENTS_STREAM, retention_s=3600, approximate=False) == 0  # all inside the window
    assert safe_trim_id(client, EVENTS_STREAM, retention_s=0) == ids[50]
    assert trim_stream(client, EVENTS_STREAM, retention_s=0, approximate=False) == 50
    assert client.xrange(EVENTS_STREAM, count=1)[0][0] == ids[50]  # notify's oldest pending entry is kept

    client.xack(EVENTS_STREAM, "notify", *ids[50:60])
    assert trim_stream(client, EVENTS_STREAM, retention_s=0, approximate=False) == 10  # unread ones stay
    assert client.xlen(EVENTS_STREAM) == 40


def test_old_outbox_and_processed_rows_are_purged(make_app) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("notify")
    db = app.extensions["db"]
    old = utcnow() - timedelta(days=10)
    with db.unit_of_work() as session:
        for i in range(3):
            outbox.record(session, NotifyOutbox, registered(i).parse())
        session.add_all([NotifyProcessed(event_id=f"old-{i}", type="X", processed_at=old) for i in range(4)])
        session.add(NotifyProcessed(event_id="new", type="X"))
    with db.unit_of_work() as session:
        first, second, _unpublished = session.scalars(select(NotifyOutbox).order_by(NotifyOutbox.id)).all()
        session.execute(update(NotifyOutbox).where(NotifyOutbox.id == first.id).values(published_at=old))
        session.execute(update(NotifyOutbox).where(NotifyOutbox.id == second.id).values(published_at=utcnow()))

    tables = NotifyOutbox.metadata.tables
    assert purge_rows(db, tables["outbox"], "published_at", older_than_s=7 * 86400, batch=2) == 1
    assert purge_rows(db, tables["processed_events"], "processed_at", older_than_s=7 * 86400, batch=2) == 4
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(NotifyOutbox)) == 2  # recent + never published
        assert session.scalars(select(NotifyProcessed.event_id)).all() == ["new"]


def _welcomes(app: Flask) -> int:
    with app.extensions["db"].unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Notification)) or 0)


def test_dead_letters_command_lists_replays_and_drops(make_app, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app("notify")
    client = redis_server.client()
    dead = DeadLetters(client)

    def bury(envelope: Envelope, group: str) -> str:
        fields = {"event": envelope.to_json(), "type": envelope.type, "group": group, "reason": "failed 5 deliveries"}
        return client.xadd(dead.stream, fields)

    mine = [bury(registered(i), "notify") for i in (1, 2, 3)]
    other = bury(registered(9), "posters")
    unknown = bury(Envelope(type="SomethingNew", payload={}), "notify")
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["bus", "dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [*mine, unknown]
    assert dead.counts() == {"notify": 4, "posters": 1}

    assert runner.invoke(args=["bus", "dead-letters", "replay"]).exit_code == 2  # needs ids or --all
    assert runner.invoke(args=["bus", "dead-letters", "replay", other]).exit_code != 0  # not notify's

    replayed = runner.invoke(args=["bus", "dead-letters", "replay", "--all"])
    assert replayed.exit_code == 1  # one could not be applied
    assert "replayed 3, failed 1" in replayed.stdout
    assert _welcomes(app) == 3
    assert [letter.id for letter in dead.entries()] == [other, unknown]

    again = runner.invoke(args=["bus", "dead-letters", "replay", "--all"])
    assert _welcomes(app) == 3 and "replayed 0" in again.stdout  # idempotent

    dropped = runner.invoke(args=["bus", "dead-letters", "drop", unknown])
    assert dropped.exit_code == 0 and "dropped 1" in dropped.stdout
    assert dead.counts() == {"posters": 1}
    health = app.test_client().get("/healthz").get_json()
    assert health["dead_letters"] == 0


def _relay_and_consume(app: Flask, relay: OutboxRelay, consumer: Consumer) -> None:
    relay.step()
    while relay.relay_once():
        pass
    consumer.ensure_group()
    while consumer.run_once(block_ms=50):
        pass


def test_events_lost_by_a_restarted_redis_are_relayed_again(make_app, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    gateway: Flask = make_app("gateway")
    notify: Flask = make_app("notify")
    with gateway.extensions["db"].unit_of_work() as session:
        for i in range(6):
            outbox.record(session, GatewayOutbox, registered(i).parse())
    relay = OutboxRelay(gateway.extensions["db"], GatewayOutbox, Publisher(redis_server.client()))

    def consumer() -> Consumer:
        return Consumer(redis_server.client(), "notify", notify_handlers(notify), claim_idle_ms=0)

    _relay_and_consume(notify, relay, consumer())
    assert _welcomes(notify) == 6

    # Redis crashed and came back from its AOF without the last two XADDs (appendfsync everysec), which the
    # relay had already marked published. Emulated by removing exactly what the lost second held.
    client = redis_server.client()
    entries = client.xrange(EVENTS_STREAM)
    for entry_id, fields in entries[-2:]:
        client.xdel(EVENTS_STREAM, entry_id)
        client.delete(f"{EVENTS_STREAM}:published:{json.loads(fields['event'])['event_id']}")
    old_run_id = redis_server.run_id()
    redis_server.restart()
    assert redis_server.run_id() != old_run_id
    relay.publisher = Publisher(redis_server.client())
    relay._run_id_checked = 0.0  # check the instance now, not within the second
    assert relay.rerelay_if_redis_restarted() == 2
    assert redis_server.client().xlen(EVENTS_STREAM) == 6

    # A Redis that lost everything: stream, groups and publish-once keys.
    redis_server.restart_empty()
    relay.publisher = Publisher(redis_server.client())
    assert relay.rerelay_if_redis_restarted() == 6
    _relay_and_consume(notify, relay, consumer())
    assert _welcomes(notify) == 6  # every event again on the stream, each applied once
    assert relay.rerelay_if_redis_restarted() == 0  # same instance: nothing to do
