"""The whole system as real processes: 4 web services (gunicorn), 4 bus processes, Celery workers, SMTP server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from playwright.sync_api import Browser, sync_playwright

from tests.support.processes import (
    Process,
    RedisServer,
    celery_worker,
    flask_command,
    free_port,
    gunicorn_args,
    run_migrations,
    service_env,
    wait_until,
)

SERVICES = ("gateway", "posters", "matching", "notify")


class MailBox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []  # type: ignore[type-arg]

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
        self.messages.append(message)


@dataclass
class System:
    url: str
    env: dict[str, str]
    mailbox: MailBox
    redis: RedisServer
    processes: dict[str, Process] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in self.processes.items())


@pytest.fixture(scope="module")
def system(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    redis_server.client().flushall()
    tmp = tmp_path_factory.mktemp("system")
    mailbox = MailBox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    ports = {s: free_port() for s in SERVICES}
    env = service_env(
        redis_server.url,
        tmp / "var",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        RATE_LIMITS="off",
        **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
    )
    system = System(f"http://127.0.0.1:{ports['gateway']}", env, mailbox, redis_server)
    try:
        for service in SERVICES:
            run_migrations(service, env)
        for service, port in ports.items():
            system.processes[service] = Process(service, gunicorn_args(service, port), env, tmp)
            system.processes[f"{service}-bus"] = flask_command(service, "bus", env, tmp)
        for service in ("posters", "notify", "matching"):
            system.processes[f"{service}-worker"] = celery_worker(service, env, tmp)
        for service, port in ports.items():
            wait_until(
                lambda p=port: requests.get(f"http://127.0.0.1:{p}/healthz", timeout=2).ok,
                timeout=60,
                what=f"{service} /healthz",
            )
        yield system
    except Exception:
        print(system.logs())
        raise
    finally:
        for process in system.processes.values():
            process.terminate()  # all at once: they shut down in parallel
        for process in system.processes.values():
            process.stop()
        smtp.stop()
        shutil.rmtree(tmp / "var" / "storage", ignore_errors=True)


CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/install.sh --test); `playwright install` cannot download
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium per test module (about a second to start); each test opens its own context.

    Module scope, not session: Playwright's sync API owns an event loop while it runs, which must not outlive the
    UI tests into the rest of the suite.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: run `bash scripts/install.sh --test` (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
