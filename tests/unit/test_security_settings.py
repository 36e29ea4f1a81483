"""Issue 12, item 8: an unset APP_ENV fails closed, production secrets must be long, argon2 runs a few at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from services.gateway.adapters.passwords import Passwords
from shared.config import ConfigError, load_settings

LONG_SECRET = "s" * 32


def test_unset_app_env_is_production_and_needs_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings("gateway")
    assert not (tmp_path / "dev-secrets.json").exists()  # no silent development secrets


def test_unset_app_env_with_a_secret_runs_as_production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    settings = load_settings("posters")
    assert settings.env == "production" and not settings.is_dev


@pytest.mark.parametrize("app_env", ["production", "staging"])
def test_short_secrets_are_refused_outside_development(monkeypatch: pytest.MonkeyPatch, app_env: str) -> None:
    monkeypatch.setenv("APP_ENV", app_env)
    monkeypatch.setenv("SECRET_KEY", "s" * 31)
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings("gateway")


def test_development_may_use_a_short_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    assert load_settings("gateway").secret_key == "short"


class _CountingHasher(PasswordHasher):
    """A real argon2 hasher (cheap parameters) that records how many hashes ran at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.01)  # widen the window in which an uncapped second call would overlap
            return super().hash(password, salt=salt)
        finally:
            with self.lock:
                self.running -= 1


def test_argon2_runs_at_most_the_cap_at_once() -> None:
    hasher = _CountingHasher()
    passwords = Passwords(hasher, max_concurrent=2)
    threads = [threading.Thread(target=passwords.hash, args=(f"password {i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hasher.most == 2
    assert passwords.verify(passwords.hash("x" * 12), "x" * 12)


def test_the_default_cap_is_the_number_of_cores() -> None:
    import os

    assert Passwords().max_concurrent == (os.cpu_count() or 1)
