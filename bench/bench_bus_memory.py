"""Redis memory per million events: what the bus stores (stream entry + publish-once key) vs a bare XADD of the
same envelope, measured in one run on one redis-server, then what trimming gives back.

    .venv/bin/python bench/bench_bus_memory.py [--events 50000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.bus import Consumer, Publisher  # noqa: E402
from shared.bus_housekeeping import trim_stream  # noqa: E402
from shared.events import UserRegistered  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402


def _event(i: int) -> UserRegistered:
    return UserRegistered(
        user_id=i,
        email=f"person{i}@example.org",
        display_name=f"Person Number {i}",
        organisation="Northern Health Data Research",
        region="North East",
        roles=["attendee"],
    )


def _used(client) -> int:  # type: ignore[no-untyped-def]
    return int(client.info("memory")["used_memory"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), appendfsync="everysec")
        server.start()
        try:
            client = server.client()
            base = _used(client)
            raw = Publisher(client, stream="bench:raw")
            pipe = client.pipeline(transaction=False)
            for i in range(n):
                envelope = _event(i).envelope()
                pipe.xadd(raw.stream, {"event": envelope.to_json(), "type": envelope.type})
                if i % 1000 == 999:
                    pipe.execute()
            pipe.execute()
            raw_bytes = _used(client) - base

            base = _used(client)
            bus = Publisher(client, stream="bench:bus")
            for i in range(n):
                bus.publish(_event(i).envelope())
            bus_bytes = _used(client) - base
            stream_bytes = int(client.memory_usage("bench:bus", samples=0) or 0)

            consumer = Consumer(client, "bench", {}, stream="bench:bus", batch=1000)
            consumer.ensure_group()
            while consumer.run_once(block_ms=10):  # no handler: every entry is acknowledged as ignored
                pass
            before_trim = _used(client)
            trimmed = trim_stream(client, "bench:bus", retention_s=0)
            after_trim = _used(client)
        finally:
            server.stop()

    per_million = 1_000_000 / n / 2**20
    print(f"events: {n:,}; envelope JSON about {len(_event(1).envelope().to_json())} bytes")
    print(f"raw XADD:          {raw_bytes * per_million:8.0f} MiB per million events")
    keys_bytes = bus_bytes - stream_bytes
    print(
        f"bus (entry + key): {bus_bytes * per_million:8.0f} MiB per million events "
        f"(stream {stream_bytes * per_million:.0f} MiB, publish-once keys {keys_bytes * per_million:.0f} MiB)"
    )
    print(f"ratio bus/raw: {bus_bytes / raw_bytes:.2f}")
    print(
        f"after every group acknowledged and MINID trimming: {trimmed:,} entries trimmed, "
        f"{(before_trim - after_trim) / 2**20:.1f} MiB given back"
    )


if __name__ == "__main__":
    main()
