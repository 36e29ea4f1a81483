"""The whole system for the load test, as real processes on free ports in a temp directory.

Every process is started from its `Procfile` line (gunicorn web services, bus processes, Celery workers and beats,
the SMTP sink), with `.venv/bin/` and `var/` pointed at this interpreter's venv and the temp VAR_DIR; Redis is
tests.support.processes.RedisServer (AOF everysec, like the Procfile). `RATE_LIMITS=off`, `APP_ENV=test`.

Not monkey-patched by gevent: bench_load.py imports this, the locust runner is another process.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from tests.support.processes import (  # noqa: E402
    ROOT,
    VENV_BIN,
    Process,
    RedisServer,
    free_port,
    run_migrations,
    service_env,
    wait_until,
)

SERVICES = ("gateway", "posters", "matching", "notify")
# Everything the Procfile runs except Redis (ours is RedisServer): 4 web, 4 bus, 4 workers, 2 beats, SMTP sink.
SKIP = {"redis"}
_VAR = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not line.lstrip().startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def procfile_args(command: str, env: dict[str, str], var_dir: Path) -> list[str]:
    """One Procfile command as argv: $VARS from env, .venv/bin/x -> this venv, var/x -> the temp VAR_DIR."""
    expanded = _VAR.sub(lambda m: env[m.group(1)], command)
    args = []
    for token in shlex.split(expanded):
        if token.startswith(".venv/bin/"):
            token = str(VENV_BIN / token.removeprefix(".venv/bin/"))
        elif token.startswith("var/"):
            token = str(var_dir / token.removeprefix("var/"))
        args.append(token)
    return args


def _jiffies(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return float(stat[11]) + float(stat[12])  # utime + stime


def process_tree_cpu(pid: int) -> dict[int, float]:
    """CPU time used so far (jiffies) by a process and each of its descendants, by pid."""
    found, todo = {}, [pid]
    while todo:
        current = todo.pop()
        found[current] = _jiffies(current)
        todo += _children(current)
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


class LoadSystem:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.var_dir = tmp / "var"
        self.log_dir = tmp / "logs"
        self.mail_dir = self.var_dir / "mail"
        self.redis = RedisServer(tmp / "redis", appendfsync="everysec")
        self.processes: dict[str, Process] = {}
        self.commands = procfile()
        self.env: dict[str, str] = {}
        self.url = ""
        self._restarts = 0

    # --- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "mail").mkdir(parents=True, exist_ok=True)
        self.redis.start()
        ports = {s: free_port() for s in SERVICES}
        self.url = f"http://127.0.0.1:{ports['gateway']}"
        env = service_env(
            self.redis.url,
            self.var_dir,
            RATE_LIMITS="off",
            # The load's simulated authors create projects all run long: measure throughput, not the quota.
            POSTERS_MAX_PROJECTS_PER_USER="100000",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(free_port()),
            PUBLIC_URL=self.url,
            **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
        )
        for key in ("STORAGE_DIR", "POSTERS_URL", "MATCHING_URL", "NOTIFY_URL", "LOGIN_RATE_LIMIT"):
            env.pop(key, None)
        self.env = env
        for service in SERVICES:
            run_migrations(service, env)
        for name, command in self.commands.items():
            if name not in SKIP:
                self.processes[name] = Process(name, procfile_args(command, env, self.var_dir), env, self.log_dir)
        for service, port in ports.items():
            wait_until(
                lambda p=port: requests.get(f"http://127.0.0.1:{p}/healthz", timeout=2).ok,
                timeout=90,
                what=f"{service} /healthz",
            )
        for name in self.processes:
            if name.endswith("-worker"):
                self.wait_worker_ready(name)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()  # all at once: they shut down in parallel
        for process in self.processes.values():
            try:
                process.stop()
            except Exception as exc:  # keep stopping the others
                print(f"load: could not stop {process.name}: {exc!r}", file=sys.stderr)
        self.redis.stop()

    def logs(self, tail: int = 2000) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-tail:]}" for n, p in self.processes.items())

    def dead_processes(self) -> list[str]:
        return [n for n, p in self.processes.items() if not p.alive()]

    # --- faults -----------------------------------------------------------------------------------------
    def gateway_workers(self) -> list[int]:
        return _children(self.processes["gateway"].proc.pid)

    def kill_gateway_worker(self) -> int:
        """kill -9 one gunicorn worker of the gateway; gunicorn's master forks a new one."""
        pid = self.gateway_workers()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_gateway_back(self, killed: int, timeout: float = 60) -> None:
        wait_until(
            lambda: (
                [p for p in self.gateway_workers() if p != killed] and requests.get(f"{self.url}/healthz", timeout=5).ok
            ),
            timeout=timeout,
            interval=0.05,
            what="a new gateway worker",
        )

    def kill_worker(self, name: str) -> None:
        """kill -9 a whole Celery worker (its main process and pool children: the process group)."""
        self.processes[name].kill(signal.SIGKILL)
        self.processes[name].stop()  # closes the log

    def restart_worker(self, name: str) -> None:
        self._restarts += 1
        args = procfile_args(self.commands[name], self.env, self.var_dir)
        self.processes[name] = Process(f"{name}-restart{self._restarts}", args, self.env, self.log_dir)

    def wait_worker_ready(self, name: str, timeout: float = 90) -> None:
        process = self.processes[name]
        wait_until(lambda: "ready." in process.output(), timeout=timeout, interval=0.2, what=f"{name} ready")

    def cpu_snapshot(self) -> dict[str, dict[int, float]]:
        """Per Procfile entry (and redis): CPU jiffies so far of each process in its tree."""
        trees = {"redis": process_tree_cpu(self.redis.proc.pid)} if self.redis.proc else {}
        for name, process in self.processes.items():
            if process.alive():
                trees[name] = process_tree_cpu(process.proc.pid)
        return trees

    # --- what the bus left behind -------------------------------------------------------------------------
    def bus_state(self) -> dict[str, object]:
        client = self.redis.client()
        stream = "insightdays:events"
        groups = {}
        if client.exists(stream):
            for group in client.xinfo_groups(stream):
                groups[group["name"]] = {"pending": group["pending"], "lag": group.get("lag")}
        return {
            "stream_length": client.xlen(stream) if client.exists(stream) else 0,
            "dead_letters": client.xlen(f"{stream}:dead") if client.exists(f"{stream}:dead") else 0,
            "groups": groups,
        }

    def mail_recipients(self) -> list[str]:
        """Envelope recipients of every mail the SMTP sink wrote (one .eml file per mail, X-RcptTo header)."""
        found = []
        for path in self.mail_dir.glob("*.eml"):
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)
            found += [r.strip().lower() for r in str(message.get("X-RcptTo", "")).split(",") if r.strip()]
        return found
