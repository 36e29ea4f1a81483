"""Chat rooms at scale: 1,000 Socket.IO clients in 500 rooms across 2 gateway processes (the Procfile's gunicorn
gthread, or `--server gevent`) sharing one Redis and one database, against a raw Redis pub/sub round trip on the
same Redis, in the same run.

Each room has its author on gateway 0 and its attendee on gateway 1, so every message crosses processes through
the Redis message queue. Every client sends `--messages` messages, one every `--interval` seconds (2,000 messages/s
offered by default), each waiting for its acknowledgement (stored, then broadcast). Latency = send time (in the
text) to arrival at the other participant. Lost and duplicated are counted per room: every acknowledged message
must reach both clients of its room exactly once. Raw: 2 publisher processes publish the same number of messages
at the same pace to 500 channels; 2 subscriber processes (like the 2 gateways' queue listeners) each receive all.

    .venv/bin/python bench/bench_chat.py [--rooms 500] [--messages 10] [--interval 0.5]

Clients run in gevent-patched worker processes (python-socketio's sync client, one greenlet per client).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONNECT_CONCURRENCY = 40
DRAIN_S = 60.0


# ---- workers (run in their own gevent-patched processes) ------------------------------------------------------------
def _wait_for(path: Path) -> float:
    while not path.exists():
        time.sleep(0.01)
    return float(path.read_text())


def _pace(start: float, offset: float, interval: float, count: int):  # type: ignore[no-untyped-def]
    for i in range(count):
        delay = start + offset + i * interval - time.time()
        if delay > 0:
            time.sleep(delay)
        yield i


def chat_worker(args: argparse.Namespace) -> None:
    import gevent
    import socketio
    from gevent.pool import Pool

    plan = json.loads(Path(args.plan).read_text())
    rooms: list[dict[str, str]] = plan["rooms"]
    received: dict[str, dict[str, int]] = {r["room_id"]: {} for r in rooms}
    latencies: list[float] = []
    sent: dict[str, list[str]] = {r["room_id"]: [] for r in rooms}
    errors: dict[str, int] = {}
    acks: list[float] = []
    clients: dict[str, socketio.Client] = {}
    last_recv = [0.0]

    def make(room: dict[str, str]) -> None:
        room_id = room["room_id"]
        client = socketio.Client(reconnection=False)

        def on_message(data: dict[str, Any]) -> None:
            now = time.time()
            sent_at, _, key = str(data.get("text", "")).partition("|")
            bucket = received.setdefault(str(data.get("room_id")), {})
            bucket[key] = bucket.get(key, 0) + 1
            if not key.startswith(args.role):
                latencies.append(now - float(sent_at))
            last_recv[0] = now

        client.on("message", on_message, namespace="/chat")
        for attempt in range(5):
            try:
                client.connect(
                    args.url, namespaces=["/chat"], transports=["websocket"], auth={"token": room[args.role]},
                    wait_timeout=30,
                )  # fmt: skip
                break
            except socketio.exceptions.ConnectionError:
                gevent.sleep(0.5 * (attempt + 1))
        ack = client.call("join", {"room_id": room_id}, namespace="/chat", timeout=60)
        if not ack.get("ok"):
            raise RuntimeError(f"join refused: {ack}")
        clients[room_id] = client

    pool = Pool(CONNECT_CONCURRENCY)
    pool.map(make, rooms)
    Path(args.out + ".ready").write_text("1")
    start = _wait_for(Path(args.start))

    def talk(room_id: str) -> None:
        client = clients[room_id]
        for i in _pace(start, random.uniform(0, args.interval), args.interval, args.messages):
            key = f"{args.role}-{i}"
            began = time.time()
            try:
                ack = client.call(
                    "message",
                    {"room_id": room_id, "client_id": key, "text": f"{time.time():.6f}|{key}"},
                    namespace="/chat",
                    timeout=60,
                )
            except Exception as exc:  # noqa: BLE001 - counted, reported
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            acks.append(time.time() - began)
            if ack.get("ok"):
                sent[room_id].append(key)
            else:
                code = (ack.get("error") or {}).get("code", "?")
                errors[code] = errors.get(code, 0) + 1

    greenlets = [gevent.spawn(talk, room_id) for room_id in clients]
    gevent.joinall(greenlets)
    sends_done = time.time()
    expected = 2 * args.messages  # both participants' messages reach each client
    deadline = time.time() + DRAIN_S
    while time.time() < deadline and any(len(received[r]) < expected for r in clients):
        gevent.sleep(0.1)
    result = {
        "sent": sent, "received": received, "latencies": latencies, "errors": errors, "acks": acks,
        "start": start, "sends_done": sends_done, "last_recv": last_recv[0],
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(result))
    for client in clients.values():
        try:
            client.disconnect()
        except Exception as exc:  # noqa: BLE001 - the results are written already
            print(f"disconnect: {exc!r}", file=sys.stderr)


def pub_worker(args: argparse.Namespace) -> None:
    import gevent
    import redis

    plan = json.loads(Path(args.plan).read_text())
    # Blocking pool: 500 greenlets share 100 connections, waiting for a free one instead of failing.
    client = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(plan["redis_url"], max_connections=100))
    rooms = [r["room_id"] for r in plan["rooms"]]
    Path(args.out + ".ready").write_text("1")
    start = _wait_for(Path(args.start))
    sent: dict[str, list[str]] = {r: [] for r in rooms}

    def talk(room_id: str) -> None:
        for i in _pace(start, random.uniform(0, args.interval), args.interval, args.messages):
            key = f"{args.role}-{i}"
            client.publish(f"raw:{room_id}", f"{time.time():.6f}|{key}")
            sent[room_id].append(key)

    gevent.joinall([gevent.spawn(talk, r) for r in rooms])
    Path(args.out).write_text(json.dumps({"sent": sent, "start": start, "sends_done": time.time()}))


def sub_worker(args: argparse.Namespace) -> None:
    import redis

    plan = json.loads(Path(args.plan).read_text())
    client = redis.Redis.from_url(plan["redis_url"], decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("raw:*")
    while pubsub.get_message(timeout=0.1) is not None:
        pass
    Path(args.out + ".ready").write_text("1")
    received: dict[str, dict[str, int]] = {}
    latencies: list[float] = []
    total, expected, last = 0, 2 * args.messages * len(plan["rooms"]), 0.0
    deadline = None
    while total < expected and (deadline is None or time.time() < deadline):
        message = pubsub.get_message(timeout=1.0)
        if message is None:
            if Path(args.start).exists() and deadline is None:
                deadline = _wait_for(Path(args.start)) + args.messages * args.interval + DRAIN_S
            continue
        now = time.time()
        sent_at, _, key = message["data"].partition("|")
        room = message["channel"].split(":", 1)[1]
        bucket = received.setdefault(room, {})
        bucket[key] = bucket.get(key, 0) + 1
        latencies.append(now - float(sent_at))
        total += 1
        last = now
    Path(args.out).write_text(json.dumps({"received": received, "latencies": latencies, "last_recv": last}))


# ---- the conductor ------------------------------------------------------------------------------------------------
def _spawn(
    mode: str, role: str, url: str, plan: Path, start: Path, out: Path, a: argparse.Namespace
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "--worker", mode, "--role", role, "--url", url, "--plan", str(plan),
           "--start", str(start), "--out", str(out), "--messages", str(a.messages),
           "--interval", str(a.interval)]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT)


def _await_ready(outs: list[Path], procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.time() + timeout
    while not all(Path(str(o) + ".ready").exists() for o in outs):
        if any(p.poll() not in (None, 0) for p in procs):
            raise SystemExit("a worker died while connecting")
        if time.time() > deadline:
            raise SystemExit("workers not ready in time")
        time.sleep(0.2)


def _go(start: Path, lead_s: float = 1.0) -> None:
    tmp = start.with_suffix(".tmp")
    tmp.write_text(f"{time.time() + lead_s:.6f}")
    tmp.rename(start)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _audit(sent: dict[str, set[str]], receipts: list[dict[str, dict[str, int]]]) -> tuple[int, int]:
    """Per room: every acknowledged message must reach every receiver exactly once."""
    lost = duplicated = 0
    for room, keys in sent.items():
        for got in receipts:
            counts = got.get(room, {})
            lost += sum(1 for k in keys if counts.get(k, 0) == 0)
            duplicated += sum(c - 1 for k, c in counts.items() if c > 1)
    return lost, duplicated


def server_args(kind: str, port: int) -> list[str]:
    """The Procfile's gthread worker (a thread per websocket), or gevent (a greenlet per websocket) to compare."""
    from tests.support.processes import VENV_BIN, gunicorn_args

    if kind == "gthread":
        return gunicorn_args("gateway", port)
    return [str(VENV_BIN / "gunicorn"), "--worker-class", "gevent", "--worker-connections", "4000", "-w", "1",
            "-b", f"127.0.0.1:{port}", "services.gateway:create_app()"]  # fmt: skip


def set_up(
    tmp: Path, rooms: int, database: str, server: str, profile: str = ""
) -> tuple[list[Any], list[str], list[Any], dict[str, Any]]:
    import requests
    from argon2 import PasswordHasher

    from services.gateway.adapters.passwords import Passwords
    from services.gateway.chat.service import apply_booked
    from services.gateway.service import NewUser, issue_token, register_user
    from shared.db import Database, migrate
    from shared.events import ChatSlotBooked, utcnow
    from tests.support.processes import Process, RedisServer, free_port, service_env, wait_until

    redis_server = RedisServer(tmp / "redis", appendfsync="everysec")
    redis_server.start()
    servers: list[Any] = [redis_server]
    var = tmp / "var"
    if database == "postgres":
        from tests.support.postgres import PostgresServer

        postgres = PostgresServer()
        postgres.start()
        servers.append(postgres)
        url = postgres.create_database("gateway")
    else:
        url = f"sqlite:///{var / 'gateway.db'}"
    # DB_POOL_SIZE=30 was tried: on 2 shared cores it brought 251 `unavailable` (pool waits over 30 s) in one run.
    env = service_env(redis_server.url, var, RATE_LIMITS="off", GATEWAY_DATABASE_URL=url)
    os.environ.update({"VAR_DIR": str(var), "APP_ENV": "test", "REDIS_URL": redis_server.url})
    migrate("gateway", url)
    db = Database(url)
    cheap = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # set-up speed, not measured
    now = utcnow()
    plan_rooms = []
    for i in range(rooms):
        tokens = {}
        ids = {}
        for role in ("author", "attendee"):
            account = register_user(db, cheap, NewUser(f"{role}{i}-{uuid.uuid4().hex[:6]}@bench.org",
                                                       "bench password 123", f"{role} {i}", "Org", "N"))  # fmt: skip
            tokens[role] = issue_token(db, account.id).token
            ids[role] = account.id
        room_id = uuid.uuid4().hex
        with db.unit_of_work() as session:
            apply_booked(session, ChatSlotBooked(
                slot_id=i + 1, room_id=room_id, project_id=1, event_id=1, author_id=ids["author"],
                attendee_id=ids["attendee"], starts_at=now.isoformat(),
                ends_at=(now + timedelta(hours=2)).isoformat(), revision=1,
            ))  # fmt: skip
        plan_rooms.append({"room_id": room_id, **tokens})
    db.dispose()
    ports = [free_port(), free_port()]
    args = [server_args(server, p) for p in ports]
    if profile:  # gateway 0 only: cProfile slows what it watches
        Path(profile).mkdir(parents=True, exist_ok=True)
        args[0] = [*args[0], "-c", str(ROOT / "bench" / "gunicorn_profile.py")]
        env = {**env, "BENCH_PROFILE_DIR": str(Path(profile).resolve())}
    gateways = [Process(f"gateway-{i}", a, env, tmp) for i, a in enumerate(args)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    for u in urls:
        wait_until(lambda u=u: requests.get(f"{u}/healthz", timeout=2).ok, timeout=60, what=u)
    return servers, urls, gateways, {"rooms": plan_rooms, "redis_url": redis_server.url}


def run_raw(tmp: Path, plan_path: Path, a: argparse.Namespace) -> dict[str, Any]:
    start = tmp / "raw.start"
    subs = [tmp / f"raw-sub-{i}.json" for i in range(2)]
    pubs = [tmp / f"raw-pub-{r}.json" for r in ("author", "attendee")]
    sub_procs = [_spawn("sub", "sub", "", plan_path, start, o, a) for o in subs]
    _await_ready(subs, sub_procs, 60)
    roles = ("author", "attendee")
    pub_procs = [_spawn("pub", r, "", plan_path, start, o, a) for r, o in zip(roles, pubs, strict=True)]
    _await_ready(pubs, pub_procs, 60)
    _go(start)
    for p in pub_procs + sub_procs:
        p.wait()
    pub_results = [json.loads(o.read_text()) for o in pubs]
    sub_results = [json.loads(o.read_text()) for o in subs]
    sent = _merge_sent(pub_results)
    lost, duplicated = _audit(sent, [r["received"] for r in sub_results])
    latencies = [x for r in sub_results for x in r["latencies"]]
    first = min(r["start"] for r in pub_results)
    total = sum(len(k) for k in sent.values())
    return {
        "messages": total,
        "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99),
        "rate": total / max(1e-9, max(r["sends_done"] for r in pub_results) - first),
        "lost": lost, "duplicated": duplicated,
    }  # fmt: skip


def _merge_sent(results: list[dict[str, Any]]) -> dict[str, set[str]]:
    sent: dict[str, set[str]] = {}
    for r in results:
        for room, keys in r["sent"].items():
            sent.setdefault(room, set()).update(keys)
    return sent


def run_chat(tmp: Path, plan_path: Path, urls: list[str], a: argparse.Namespace) -> dict[str, Any]:
    start = tmp / "chat.start"
    outs = [tmp / f"chat-{r}.json" for r in ("author", "attendee")]
    began = time.time()
    procs = [_spawn("chat", r, u, plan_path, start, o, a) for r, u, o in zip(("author", "attendee"), urls, outs,
                                                                           strict=True)]  # fmt: skip
    _await_ready(outs, procs, 600)
    connected_s = time.time() - began
    _go(start, lead_s=2.0)
    for p in procs:
        p.wait()
    results = [json.loads(o.read_text()) for o in outs]
    sent = _merge_sent(results)
    lost, duplicated = _audit(sent, [r["received"] for r in results])
    latencies = [x for r in results for x in r["latencies"]]
    acks = [x for r in results for x in r["acks"]]
    first = min(r["start"] for r in results)
    total = sum(len(k) for k in sent.values())
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "messages": total, "connect_s": connected_s,
        "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99),
        "rate": total / max(1e-9, max(r["sends_done"] for r in results) - first),
        "delivered_rate": 2 * total / max(1e-9, max(r["last_recv"] for r in results) - first),
        "lost": lost, "duplicated": duplicated, "errors": errors,
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
        "ack_p50": _percentile(acks, 50), "ack_p99": _percentile(acks, 99),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10, help="messages per client")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between a client's messages")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres",
                        help="the gateway's database (postgres as in compose; the test cluster runs with fsync=off)")
    parser.add_argument("--server", choices=("gthread", "gevent"), default="gthread",
                        help="gateway worker: gthread with a thread per socket (the Procfile's) or gevent")
    parser.add_argument("--logs", default="", help="copy the gateways' logs to this directory")
    parser.add_argument("--profile", default="", help="cProfile gateway 0 (all threads) into this directory")
    parser.add_argument("--worker", choices=("chat", "pub", "sub"))
    parser.add_argument("--role", default="author")
    parser.add_argument("--url", default="")
    parser.add_argument("--plan", default="")
    parser.add_argument("--start", default="")
    parser.add_argument("--out", default="")
    a = parser.parse_args()
    if a.worker:
        from gevent import monkey

        monkey.patch_all()
        {"chat": chat_worker, "pub": pub_worker, "sub": sub_worker}[a.worker](a)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-chat-") as name:
        tmp = Path(name)
        t0 = time.time()
        servers, urls, gateways, plan = set_up(tmp, a.rooms, a.database, a.server, a.profile)
        plan_path = tmp / "plan.json"
        plan_path.write_text(json.dumps(plan))
        clients = 2 * a.rooms
        offered = clients / a.interval
        print(f"set-up {time.time() - t0:.0f} s: {a.rooms} rooms, {clients} clients, 2 gateway processes "
              f"(gunicorn {a.server}, database {a.database}), offered {offered:.0f} messages/s "
              f"for {a.messages * a.interval:.1f} s",
              flush=True)  # fmt: skip
        try:
            raw = run_raw(tmp, plan_path, a)
            chat = run_chat(tmp, plan_path, urls, a)
        finally:
            for g in gateways:
                g.terminate()
            for g in gateways:
                g.stop()
            for server in servers:
                server.stop()
            if a.logs:
                Path(a.logs).mkdir(parents=True, exist_ok=True)
                for g in gateways:
                    shutil.copy(g.log_path, Path(a.logs) / g.log_path.name)
    ms = 1000.0
    print(f"raw pub/sub : {raw['messages']} msgs  p50 {raw['p50'] * ms:7.2f} ms  p99 {raw['p99'] * ms:7.2f} ms  "
          f"{raw['rate']:7.0f} msg/s  lost {raw['lost']}  duplicated {raw['duplicated']}")  # fmt: skip
    print(f"chat        : {chat['messages']} msgs  p50 {chat['p50'] * ms:7.2f} ms  p99 {chat['p99'] * ms:7.2f} ms  "
          f"{chat['rate']:7.0f} msg/s sent+stored ({chat['delivered_rate']:.0f} deliveries/s)  lost {chat['lost']}  "
          f"duplicated {chat['duplicated']}  send errors {chat['errors'] or 0}  "
          f"({clients} clients connected and joined in {chat['connect_s']:.0f} s); acknowledgement p50 "
          f"{chat['ack_p50'] * ms:.1f} ms p99 {chat['ack_p99'] * ms:.1f} ms")  # fmt: skip
    print(f"ratios chat/raw: p50 {chat['p50'] / raw['p50']:.1f}x  p99 {chat['p99'] / raw['p99']:.1f}x  "
          f"throughput {chat['rate'] / raw['rate']:.2f}  (goals: p99 within 3x, >= 2000 msg/s, 0 lost, 0 duplicated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
