"""Events/s through shared.bus (publish-once script, envelope JSON, 2 consumer processes with dispatch and ack)
vs raw XADD / XREADGROUP / XACK on the same Redis, rounds interleaved so machine noise hits both alike.

    .venv/bin/python bench/bench_bus.py [--events 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from shared.bus import Consumer, Publisher  # noqa: E402
from shared.events import Envelope, UserRegistered  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402

GROUP = "bench"


def _drained(client: redis.Redis, stream: str) -> bool:
    group = client.xinfo_groups(stream)[0]
    return bool(client.get(f"{stream}:done")) and group["lag"] == 0 and group["pending"] == 0


def _bus_consumer(url: str, stream: str, name: str) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    handled = 0

    def handle(_envelope: Envelope) -> None:
        nonlocal handled
        handled += 1

    consumer = Consumer(client, GROUP, {"UserRegistered": handle}, name=name, stream=stream, batch=100)
    while not (consumer.run_once(block_ms=20) == 0 and _drained(client, stream)):
        pass
    client.incrby(f"{stream}:handled", handled)


def _raw_consumer(url: str, stream: str, name: str) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    handled = 0
    while True:
        response = client.xreadgroup(GROUP, name, {stream: ">"}, count=100, block=20)
        ids = [mid for _s, msgs in response or [] for mid, _f in msgs]
        if ids:
            client.xack(stream, GROUP, *ids)
            handled += len(ids)
        elif _drained(client, stream):
            break
    client.incrby(f"{stream}:handled", handled)


def _events(n: int) -> list[Envelope]:
    return [UserRegistered(i, f"u{i}@example.org", "User", "Org", "Region", ["attendee"]).envelope() for i in range(n)]


def run_round(url: str, kind: str, n: int, tag: str) -> float:
    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"bench:{kind}:{tag}"
    client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    events = _events(n)
    target = _bus_consumer if kind == "bus" else _raw_consumer
    workers = [mp.Process(target=target, args=(url, stream, f"c{i}")) for i in range(2)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    # Both publish one event per round trip, as the outbox relay does; "bus" adds the publish-once script.
    if kind == "bus":
        publisher = Publisher(client, stream=stream)
        for e in events:
            publisher.publish(e)
    else:
        for e in events:
            client.xadd(stream, {"event": e.to_json(), "type": e.type})
    client.set(f"{stream}:done", "1")
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    handled = int(client.get(f"{stream}:handled") or 0)
    if handled != n:
        raise SystemExit(f"{kind}: handled {handled} of {n}")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), appendfsync="everysec")
        server.start()
        try:
            rates: dict[str, list[float]] = {"bus": [], "raw": []}
            for r in range(args.rounds):
                for kind in ("raw", "bus") if r % 2 else ("bus", "raw"):
                    rates[kind].append(run_round(server.url, kind, args.events, str(r)))
        finally:
            server.stop()
    bus, raw = statistics.median(rates["bus"]), statistics.median(rates["raw"])
    print(f"bus (publish-once + 2 consumers, dispatch, ack): {bus:8.0f} events/s  {[round(x) for x in rates['bus']]}")
    print(f"raw (XADD + 2 XREADGROUP/XACK consumers)      : {raw:8.0f} events/s  {[round(x) for x in rates['raw']]}")
    print(f"ratio bus/raw = {bus / raw:.2f}  ({args.events} events/round, {args.rounds} rounds, AOF everysec)")


if __name__ == "__main__":
    main()
