"""The benchmark's SMTP sink (aiosmtpd), a process of its own so it never competes with the sender for a GIL:
every accepted mail appends its Message-ID as one line to a file; nothing else is kept.

    python bench/digest_sink.py PORT IDS_FILE
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class MessageIdRecorder:
    def __init__(self, path: str) -> None:
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - line-buffered for the whole process

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw: bytes = envelope.original_content or envelope.content
        head = raw.split(b"\r\n\r\n", 1)[0]
        message_id = ""
        for line in head.split(b"\r\n"):
            if line[:11].lower() == b"message-id:":
                message_id = line[11:].strip().decode("ascii", "replace")
                break
        self.out.write((message_id or "<none>") + "\n")
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(MessageIdRecorder(path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
