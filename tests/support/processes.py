"""Start real servers for tests: redis-server on a free port, service processes, Celery workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> object:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what or predicate}: {last_exc!r}")


class RedisServer:
    """A real redis-server with AOF on, in its own directory; can be restarted to test durability."""

    def __init__(self, directory: Path, appendfsync: str = "always") -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server not found: run `make install` (apt-get install redis-server)")
        self.directory = directory
        self.appendfsync = appendfsync
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                self.appendfsync,
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.client().ping(), what="redis-server")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop(signal.SIGKILL)  # a crash, not a clean shutdown: only the AOF can save the data
        self.start()

    def restart_empty(self) -> None:
        """A Redis that lost its data (disk lost, or a replica promoted before it had synced anything)."""
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.start()

    def run_id(self) -> str:
        return str(self.client().info("server")["run_id"])

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


class Process:
    """A child process with its output in a log file, stopped with its whole process group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=20)

    def terminate(self) -> None:
        """Ask to stop without waiting (stop several processes at once, then `stop()` each)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self._log.close()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


def gunicorn_args(service: str, port: int, threads: int = 16) -> list[str]:
    """A service's web server as the Procfile runs it: the gateway with a thread per websocket (1,000 sockets in
    one process; README "Chat rooms" says why not gevent), the others with a few threads."""
    if service == "gateway":
        worker = ["--worker-class", "gthread", "--threads", "1100", "--worker-connections", "2200"]
    else:
        worker = ["--worker-class", "gthread", "--threads", str(threads)]
    app = f"services.{service}:create_app()"
    return [str(VENV_BIN / "gunicorn"), *worker, "-w", "1", "-b", f"127.0.0.1:{port}", app]


def service_env(redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(
        APP_ENV="test",
        REDIS_URL=redis_url,
        VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def celery_worker(service: str, env: dict[str, str], log_dir: Path, name: str = "w1", concurrency: int = 1) -> Process:
    args = [
        str(VENV_BIN / "celery"),
        "-A",
        f"services.{service}.worker",
        "worker",
        "-Q",
        service,
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return Process(f"celery-{service}-{name}", args, env, log_dir)


def flask_command(service: str, command: str, env: dict[str, str], log_dir: Path) -> Process:
    return Process(
        f"{service}-{command}", [str(VENV_BIN / "flask"), "--app", f"services.{service}", command], env, log_dir
    )


def run_migrations(service: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", f"services.{service}", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
