"""Settings: safe local defaults, secrets required outside development."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings("gateway")


def test_development_makes_random_secrets_shared_by_all_local_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    a, b = load_settings("gateway"), load_settings("posters")
    assert a.secret_key == b.secret_key and len(a.secret_key) >= 32
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_each_service_has_its_own_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("POSTERS_DATABASE_URL", raising=False)
    monkeypatch.setenv("MATCHING_DATABASE_URL", "postgresql+psycopg://u:p@db/matching")
    assert load_settings("posters").database_url == f"sqlite:///{tmp_path / 'posters.db'}"
    assert load_settings("matching").database_url == "postgresql+psycopg://u:p@db/matching"


def test_rate_limits_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMITS", "off")
    assert load_settings("gateway").rate_limits is False
    monkeypatch.delenv("RATE_LIMITS")
    assert load_settings("gateway").rate_limits is True
