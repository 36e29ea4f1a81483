"""Post-event digest fan-out, end to end, against a bare smtplib loop to the same SMTP sink in the same run.

One `EventEnded` for N attendees (default 10,000) is published on the event stream; the real notify bus process
consumes it and plans digest batches; real Celery workers write the digests (`notify.followup.write_digests`,
through `outgoing.notify`) and send the mails (`notify.send_email`) to an aiosmtpd sink in its own process, which
records each Message-ID. Measured: mails/s from the XADD to the last digest at the sink, the time until every
digest was written, and duplicates / missing counted at the sink by Message-ID. The bare loop sends the same number
of mails of the same size over one reused smtplib connection to the same sink, first, in the same run.

    .venv/bin/python bench/bench_digest.py [--attendees 10000] [--concurrency 2] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import (  # noqa: E402
    ROOT,
    Process,
    RedisServer,
    celery_worker,
    flask_command,
    free_port,
    run_migrations,
    service_env,
    wait_until,
)

GOAL = 0.8
DAY = 1
STALL_S = 180.0  # no new mail at the sink for this long: give up and count what is missing


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def sample_mail(index: int, text: str, html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Insight Days <no-reply@insightdays.local>"
    msg["To"] = f"user{index}@example.org"
    msg["Subject"] = "Your follow-up from Benchmark day"
    msg["Message-ID"] = f"<bare-{index}@insightdays.local>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=SMTP)  # CRLF line ends, as send_message would write


def bare_loop(port: int, count: int, text: str, html: str, ids_file: Path) -> float:
    """Mails/s of one smtplib connection sending `count` mails, until the sink has recorded all of them."""
    before = sum(1 for line in lines(ids_file) if line.startswith("<bare-"))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for index in range(count):
            smtp.sendmail("no-reply@insightdays.local", [f"user{index}@example.org"], sample_mail(index, text, html))
    wait_until(
        lambda: sum(1 for line in lines(ids_file) if line.startswith("<bare-")) - before >= count,
        timeout=600,
        interval=0.02,
        what="bare mails at the sink",
    )
    return count / (time.perf_counter() - started)


def seed(attendees: int) -> tuple[str, str]:
    """Recipients, a project with its learnings and one view per attendee (setup, not measured); returns a sample
    digest's text and HTML, to give the bare loop mails of the same size."""
    from sqlalchemy import insert

    from services.notify.adapters.orm import Recipient
    from services.notify.app import create_app
    from services.notify.followup import domain
    from services.notify.followup.models import EndedDay, ProjectNote, ProjectView
    from services.notify.followup.service import build_digest
    from shared.events import utcnow

    app = create_app()
    db = app.extensions["db"]
    now = utcnow()
    with db.unit_of_work() as session:
        session.execute(
            insert(Recipient),
            [
                {"user_id": u, "email": f"user{u}@example.org", "display_name": f"Attendee {u}", "organisation": "Org"}
                for u in range(1, attendees + 1)
            ],
        )
        session.add(
            ProjectNote(
                project_id=1,
                event_id=DAY,
                owner_id=1,
                title="Federated analysis of registry data",
                learnings=["Start with the data steward", "Synthetic data first", "Publish the code"],
            )
        )
        session.execute(
            insert(ProjectView),
            [{"user_id": u, "project_id": 1, "event_id": DAY, "viewed_at": now} for u in range(1, attendees + 1)],
        )
    with db.unit_of_work() as session:
        day = EndedDay(event_id=DAY, title="Benchmark day", timezone="Europe/Paris", ended_at=now, survey_due_at=now)
        digest = build_digest(session, day, 2, set())
        session.expunge_all()
    db.dispose()
    url = "http://127.0.0.1:8000/followup/events/1"
    return domain.digest_text(digest, url), domain.digest_html(digest, url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (prefork)")
    parser.add_argument("--batch", type=int, default=100, help="digests per write_digests task")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp_name:
        tmp = Path(tmp_name)
        redis_server = RedisServer(tmp / "redis", appendfsync="everysec")
        redis_server.start()
        smtp_port = free_port()
        ids_file = tmp / "message-ids.txt"
        sink = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "digest_sink.py"), str(smtp_port), str(ids_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes: list[Process] = []
        try:
            assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
            env = service_env(
                redis_server.url,
                tmp / "var",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(smtp_port),
                RATE_LIMITS="off",
                FOLLOWUP_DIGEST_BATCH=str(args.batch),
            )
            os.environ.update(env)
            run_migrations("notify", env)
            text, html = seed(args.attendees)
            print(f"digest mail: {len(sample_mail(0, text, html))} bytes; {args.attendees} attendees", flush=True)

            bare = bare_loop(smtp_port, args.attendees, text, html, ids_file)
            print(f"bare smtplib loop (1 connection): {bare:,.0f} mails/s", flush=True)

            processes.append(flask_command("notify", "bus", env, tmp))
            processes.append(celery_worker("notify", env, tmp, concurrency=args.concurrency))
            wait_until(lambda: "ready" in processes[1].output(), timeout=120, what="notify worker")
            client = redis_server.client()
            wait_until(
                lambda: any(g["name"] == "notify" for g in client.xinfo_groups("insightdays:events")),
                timeout=120,
                what="notify consumer group",
            )
            from shared.bus import Publisher
            from shared.events import EventEnded, utcnow

            people = list(range(1, args.attendees + 1))
            event = EventEnded(DAY, "Benchmark day", "Europe/Paris", utcnow().isoformat(), people, people)
            started = time.perf_counter()
            Publisher(client).publish(event.envelope())
            written_at = _watch(tmp / "var" / "notify.db", ids_file, args.attendees, started)
            elapsed = time.perf_counter() - started
            received = [line for line in lines(ids_file) if line.startswith("<notify-email-")]
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.stop()
            sink.terminate()
            sink.wait(timeout=10)
            redis_server.stop()

        counts = Counter(received)
        unique = len(counts)
        duplicates = sum(n - 1 for n in counts.values())
        missing = max(0, args.attendees - unique)
        rate = unique / elapsed
        print(
            f"digest fan-out (bus + {args.concurrency} worker processes, batches of {args.batch}): "
            f"{rate:,.0f} mails/s ({unique} mails in {elapsed:.1f} s; every digest written after "
            f"{written_at:.1f} s)"
        )
        print(f"ratio fan-out / bare = {rate / bare:.2f} (goal >= {GOAL}); duplicates={duplicates} missing={missing}")
        return 0


def _watch(database: Path, ids_file: Path, expected: int, started: float) -> float:
    """Wait until every digest mail reached the sink (or nothing moved for STALL_S); returns when the last digest
    row was written, in seconds after `started`."""
    import sqlite3

    written_at = float("nan")
    last_count, last_change = -1, time.perf_counter()
    while True:
        time.sleep(0.2)
        count = sum(1 for line in lines(ids_file) if line.startswith("<notify-email-"))
        if written_at != written_at:  # NaN: not all written yet
            with sqlite3.connect(database, timeout=30) as conn:
                rows = conn.execute("SELECT count(*) FROM notifications WHERE kind = 'followup_digest'").fetchone()[0]
            if rows >= expected:
                written_at = time.perf_counter() - started
        if count >= expected:
            return written_at
        if count != last_count:
            last_count, last_change = count, time.perf_counter()
        elif time.perf_counter() - last_change > STALL_S:
            print(f"stalled: {count} of {expected} mails at the sink", flush=True)
            return written_at


if __name__ == "__main__":
    sys.exit(main())
