"""A local SMTP server for developers: every mail it receives becomes an .eml file you can open.

python -m services.notify.smtp_sink --host 127.0.0.1 --port 8025 --dir var/mail
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from shared.events import utcnow

log = logging.getLogger("smtp_sink")


class MaildirSink:
    """aiosmtpd handler: writes each message as `<time>-<id>.eml`, with the envelope in X- headers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.SMTP)
        msg["X-MailFrom"] = envelope.mail_from
        msg["X-RcptTo"] = ", ".join(envelope.rcpt_tos)
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(msg.as_bytes())
        tmp.rename(self.directory / name)  # readers never see half a file
        log.info("mail to=%s subject=%s file=%s", ", ".join(envelope.rcpt_tos), msg["Subject"], name)
        return "250 Message accepted for delivery"


def start(host: str, port: int, directory: Path) -> Controller:
    controller = Controller(MaildirSink(directory), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink: saves received mail as .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smtp-sink %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter: one line per mail
    controller = start(args.host, args.port, args.dir)
    log.info("listening on %s:%s, writing to %s", args.host, args.port, args.dir.resolve())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
