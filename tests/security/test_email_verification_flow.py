"""E-mail verification end to end with real parts: gateway (gunicorn) and notify (bus + Celery worker) on a Redis
that requires a password, one ACL user per service as docker-compose.yml configures it, mails caught by a real
aiosmtpd server, and the link in the mail clicked in Chromium."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
import redis
import requests
import yaml
from aiosmtpd.controller import Controller
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, MailBox
from tests.support.processes import (
    VENV_BIN,
    Process,
    celery_worker,
    flask_command,
    free_port,
    gunicorn_args,
    run_migrations,
    service_env,
    wait_until,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
SNEAKY = "Win a prize at https://evil.example"
REDIS_PASSWORDS = {s: f"{s}-redis-pw-{i}x" for i, s in enumerate(("gateway", "posters", "matching", "notify"))}


def compose_redis_args() -> list[str]:
    """The redis-server arguments of docker-compose.yml's redis service, with the passwords filled in."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    script = compose["services"]["redis"]["command"][-1]
    for service, password in REDIS_PASSWORDS.items():
        script = script.replace(f"$$REDIS_{service.upper()}_PASSWORD", password)
    args = shlex.split(script)
    assert args[:2] == ["exec", "redis-server"]
    return args[2:]


@dataclass
class Stack:
    url: str
    mailbox: MailBox
    redis_port: int
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mailbox.messages if address in m["To"]]

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in self.processes.items())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("verification")
    redis_port = free_port()
    (tmp / "redis").mkdir()
    redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(tmp / "redis"), "--save", ""]
    redis_proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", *compose_redis_args(), *redis_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mailbox = MailBox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()

    def env_for(service: str) -> dict[str, str]:
        url = f"redis://{service}:{REDIS_PASSWORDS[service]}@127.0.0.1:{redis_port}/0"
        return service_env(
            url,
            tmp / "var",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            RATE_LIMITS="off",
            EMAIL_VERIFICATION="on",
            GATEWAY_PORT=str(port),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
        )

    gateway_env, notify_env = env_for("gateway"), env_for("notify")
    stack = Stack(f"http://127.0.0.1:{port}", mailbox, redis_port, gateway_env)
    try:
        wait_until(lambda: redis.Redis(port=redis_port, username="probe", password="x").ping(), what="redis")
        run_migrations("gateway", gateway_env)
        run_migrations("notify", notify_env)
        stack.processes["gateway"] = Process("gateway", gunicorn_args("gateway", port), gateway_env, tmp)
        stack.processes["gateway-bus"] = flask_command("gateway", "bus", gateway_env, tmp)
        stack.processes["notify-bus"] = flask_command("notify", "bus", notify_env, tmp)
        stack.processes["notify-worker"] = celery_worker("notify", notify_env, tmp)
        wait_until(lambda: requests.get(f"{stack.url}/healthz", timeout=2).ok, timeout=60, what="gateway /healthz")
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        for process in stack.processes.values():
            process.terminate()
        for process in stack.processes.values():
            process.stop()
        smtp.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)


def register(stack: Stack, email: str, password: str = PASSWORD) -> requests.Response:
    body = {"email": email, "password": password, "display_name": SNEAKY, "organisation": "Org", "region": "North"}
    return requests.post(f"{stack.url}/api/v1/auth/register", json=body, timeout=30)


def sign_in(stack: Stack, email: str) -> requests.Response:
    return requests.post(f"{stack.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)


def body_of(message: EmailMessage) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def test_redis_refuses_anyone_without_a_service_password(stack: Stack) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=stack.redis_port).set("x", "1")
    with pytest.raises(redis.ResponseError, match="no permissions"):
        redis.Redis(port=stack.redis_port, username="gateway", password=REDIS_PASSWORDS["gateway"]).flushall()


def test_register_confirm_by_the_mailed_link_then_sign_in(stack: Stack) -> None:
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", "owner@example.org"]
        + ["--password", PASSWORD],
        env=stack.env,
        check=True,
        capture_output=True,
    )
    new, taken = register(stack, "ann@example.org"), register(stack, "owner@example.org", "attacker's password")
    assert new.status_code == taken.status_code == 202 and new.json() == taken.json()

    def warnings() -> list[EmailMessage]:
        return [m for m in stack.mails_to("owner@example.org") if "tried to register" in m["Subject"]]

    wait_until(
        lambda: stack.mails_to("ann@example.org") and warnings(),
        timeout=60,
        what="the confirmation and the address-taken mails",
    )
    [confirmation] = stack.mails_to("ann@example.org")
    text = body_of(confirmation)
    assert SNEAKY not in text and "evil.example" not in str(confirmation)  # nothing the registrant wrote
    assert "tried to register" in body_of(warnings()[0]) and "attacker" not in str(warnings()[0])
    assert sign_in(stack, "owner@example.org").status_code == 200  # the owner's password is unchanged

    before = sign_in(stack, "ann@example.org")
    assert before.status_code == 403 and before.json()["error"]["code"] == "email_not_verified"

    link = re.search(r"http://\S+/verify-email\?token=\S+", text)
    assert link, text
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(link.group(0))
            page.get_by_role("button", name="Confirm my address").click()
            page.get_by_text("Your address is confirmed").wait_for()
        finally:
            browser.close()

    assert sign_in(stack, "ann@example.org").status_code == 200
    # Only now is the person announced: notify's welcome (which quotes the name given) follows the confirmation.
    wait_until(lambda: len(stack.mails_to("ann@example.org")) == 2, timeout=60, what="the welcome mail")
    assert "Welcome" in stack.mails_to("ann@example.org")[1]["Subject"]
