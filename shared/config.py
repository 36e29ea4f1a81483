"""Settings from the environment only, with safe local defaults.

Outside development and test, SECRET_KEY must be set: a default secret in production would let anyone forge
sessions. (The internal identity is signed with an Ed25519 pair, see `shared.identity_keys`.)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gateway", "posters", "matching", "notify")
DEFAULT_PORTS = {"gateway": 8000, "posters": 8001, "matching": 8002, "notify": 8003}
MIN_SECRET_BYTES = 32  # a shorter signing key can be guessed offline from one signed cookie


class ConfigError(RuntimeError):
    """Raised when the environment is missing something required."""


def env(name: str, default: str | None = None) -> str | None:
    """The variable's value; unset and empty both mean `default`."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def flag(name: str, default: bool) -> bool:
    """On unless 0/off/false/no; unset and empty mean `default`."""
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "off", "false", "no")


@dataclass(frozen=True)
class Settings:
    service: str
    env: str
    secret_key: str
    redis_url: str
    database_url: str
    var_dir: Path
    service_urls: dict[str, str] = field(default_factory=dict)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "Insight Days <no-reply@insightdays.local>"
    rate_limits: bool = True
    storage_dir: Path = ROOT / "var" / "storage"
    public_url: str = "http://127.0.0.1:8000"

    @property
    def is_dev(self) -> bool:
        return self.env in ("development", "test")


def _dev_secrets(var_dir: Path) -> dict[str, str]:
    """Random secrets for local development, made once per checkout and shared by all local processes."""
    path = var_dir / "dev-secrets.json"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"secret_key": secrets.token_urlsafe(32)}))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first process wins, the others read its file
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())


def database_url_for(service: str, var_dir: Path) -> str:
    return env(f"{service.upper()}_DATABASE_URL") or f"sqlite:///{var_dir / (service + '.db')}"


def service_url_for(service: str) -> str:
    port = int(env(f"{service.upper()}_PORT", str(DEFAULT_PORTS[service])))
    return env(f"{service.upper()}_URL") or f"http://127.0.0.1:{port}"


def load_settings(service: str) -> Settings:
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}")
    app_env = env("APP_ENV", "production")  # fail closed: only an explicit development/test is lenient
    var_dir = Path(env("VAR_DIR", str(ROOT / "var")))
    secret_key = env("SECRET_KEY")
    if app_env not in ("development", "test"):
        if not secret_key:
            raise ConfigError(f"SECRET_KEY must be set when APP_ENV={app_env}")
        if len(secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes when APP_ENV={app_env}")
    elif not secret_key:
        secret_key = _dev_secrets(var_dir)["secret_key"]
    return Settings(
        service=service,
        env=app_env,
        secret_key=secret_key,
        redis_url=env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        database_url=database_url_for(service, var_dir),
        var_dir=var_dir,
        service_urls={s: service_url_for(s) for s in SERVICES},
        smtp_host=env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env("SMTP_PORT", "8025")),
        mail_from=env("MAIL_FROM", "Insight Days <no-reply@insightdays.local>"),
        rate_limits=flag("RATE_LIMITS", True),
        storage_dir=Path(env("STORAGE_DIR", str(var_dir / "storage"))),
        public_url=env("PUBLIC_URL", service_url_for("gateway")),
    )


@dataclass(frozen=True)
class BusSettings:
    """Tuning of a service's bus process (`flask --app services.X bus`); every value has a safe default."""

    claim_idle_ms: int = 30_000  # a message pending this long on a dead consumer is taken over
    max_deliveries: int = 5  # failed deliveries (not counting outages) before a message is dead-lettered
    reclaim_page: int = 50  # messages taken over per turn, so a backlog is not claimed in one storm
    stall_s: float = 60.0  # a loop with no successful turn for this long makes the health check fail
    hang_exit_s: float = 300.0  # a loop with no turn at all for this long ends the process (a supervisor restarts it)
    rerelay_window_s: float = 300.0  # outbox rows published this recently are sent again after a Redis restart
    stream_retention_s: float = 24 * 3600.0  # consumed stream entries are trimmed once older than this
    dead_letter_retention_s: float = 30 * 24 * 3600.0
    outbox_retention_s: float = 7 * 24 * 3600.0  # published outbox rows are purged after this
    # Must outlive the outbox rows: a Redis that lost its data gets every retained row again, and only this
    # table tells a consumer that it already applied one.
    inbox_retention_s: float = 30 * 24 * 3600.0
    housekeeping_every_s: float = 300.0


def load_bus_settings() -> BusSettings:
    defaults = BusSettings()

    def number(name: str, default: float) -> float:
        raw = env(f"BUS_{name.upper()}")
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"BUS_{name.upper()} must be a number, got {raw!r}") from exc
        if value <= 0:
            raise ConfigError(f"BUS_{name.upper()} must be positive, got {raw!r}")
        return value

    values = {f: number(f, getattr(defaults, f)) for f in defaults.__dataclass_fields__}
    for whole in ("claim_idle_ms", "max_deliveries", "reclaim_page"):
        values[whole] = int(values[whole])
    if values["inbox_retention_s"] < values["outbox_retention_s"] + values["rerelay_window_s"]:
        raise ConfigError("BUS_INBOX_RETENTION_S must be longer than BUS_OUTBOX_RETENTION_S")
    return BusSettings(**values)
