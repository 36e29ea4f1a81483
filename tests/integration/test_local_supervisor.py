"""`make run`'s supervisor with real processes: scripts/supervise.py writes supervisord's config from the Procfile
and runs supervisord, as scripts/run.sh does. A process killed with SIGKILL comes back (new pid, healthy again)
while the others keep their pids; a process that crashes at once backs off instead of spinning; stopping the
supervisor leaves no process behind."""

from __future__ import annotations

import configparser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery
from supervisor.xmlrpc import SupervisorTransport

from shared.bus import heartbeat_key
from tests.support.processes import ROOT, RedisServer, free_port, run_migrations, service_env, wait_until

pytestmark = pytest.mark.integration

SUPERVISE = ROOT / "scripts" / "supervise.py"


def processes_with_marker(marker: str) -> list[str]:
    """Every live process whose environment carries this run's marker (supervisord, its children, orphans)."""
    needle = f"SUPERVISOR_TEST_RUN={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {cmdline}")
        except OSError:  # gone meanwhile, or a zombie
            continue
    return found


class Supervisor:
    """`python scripts/supervise.py run NAME...` in the background, talked to over its XML-RPC socket."""

    def __init__(self, var_dir: Path, env: dict[str, str], names: list[str]) -> None:
        self.var_dir = var_dir
        self.marker = uuid.uuid4().hex
        self.env = {**env, "VAR_DIR": str(var_dir), "SUPERVISOR_TEST_RUN": self.marker}
        var_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = var_dir / "supervisor-terminal.log"
        self._out = open(self.out_path, "ab")  # noqa: SIM115 - closed in stop(); append: the listener appends too
        self.proc = subprocess.Popen(
            [sys.executable, str(SUPERVISE), "run", *names],
            cwd=ROOT,
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._rpc: Any = None

    def rpc(self) -> Any:
        if self._rpc is None:
            config = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
            config.read(self.var_dir / "supervisord.conf")
            ctl = config["supervisorctl"]
            transport = SupervisorTransport(ctl["username"], ctl["password"], ctl["serverurl"])
            self._rpc = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        return self._rpc

    def info(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.rpc().supervisor.getAllProcessInfo()}

    def pids(self, names: list[str]) -> dict[str, int]:
        info = self.info()
        return {name: info[name]["pid"] for name in names}

    def running(self, names: list[str]) -> bool:
        info = self.info()
        return all(info[n]["statename"] == "RUNNING" for n in names)

    def supervisord_log(self) -> str:
        path = self.var_dir / "log" / "supervisord.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def terminal(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.out_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        """Ctrl-C (SIGINT), like SIGTERM and SIGHUP: supervisord stops every group, then exits."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=60)
            return self.proc.returncode
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self._out.close()

    def leftovers(self) -> list[str]:
        return processes_with_marker(self.marker)

    def kill_leftovers(self) -> None:
        for line in self.leftovers():
            try:
                os.kill(int(line.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def healthz(port: int) -> bool:
    return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200


def test_a_killed_process_comes_back_while_the_others_keep_running(tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    ports = {s: free_port() for s in ("gateway", "posters", "matching", "notify")}
    env = service_env(
        redis_server.url,
        tmp_path / "var",
        **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
        **{f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()},
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(free_port()),
    )
    for service in ("notify", "matching"):
        run_migrations(service, env)
    names = ["notify", "matching", "notify-bus", "matching-bus", "notify-worker"]
    supervisor = Supervisor(tmp_path / "var", env, names)
    redis = redis_server.client()
    try:
        wait_until(lambda: supervisor.running(names), timeout=120, interval=0.5, what="every process RUNNING")
        wait_until(lambda: healthz(ports["notify"]) and healthz(ports["matching"]), timeout=60, what="/healthz")
        before = supervisor.pids(names)
        recovery: dict[str, float] = {}

        def kill_and_wait(name: str, back: Any) -> None:
            old = supervisor.pids([name])[name]
            started = time.monotonic()
            os.kill(old, signal.SIGKILL)
            wait_until(lambda: supervisor.pids([name])[name] not in (0, old), timeout=30, what=f"{name} respawned")
            wait_until(lambda: group_gone(old), timeout=30, what=f"what {name} left behind to exit")
            wait_until(lambda: back(supervisor.pids([name])[name]), timeout=60, what=f"{name} working again")
            recovery[name] = round(time.monotonic() - started, 1)
            # It stays up (RUNNING = up for startsecs), and nothing else was restarted meanwhile.
            wait_until(lambda: supervisor.running([name]), timeout=30, interval=0.5, what=f"{name} RUNNING")
            now = supervisor.pids(names)
            assert now[name] != old
            assert {n: p for n, p in now.items() if n != name} == {n: p for n, p in before.items() if n != name}
            before[name] = now[name]

        # The notify web service: /healthz answers again, from the new gunicorn (the old one's group is gone).
        kill_and_wait("notify", lambda _pid: healthz(ports["notify"]))

        # A bus process: the new one writes the heartbeat with its own pid, all loops progressing.
        def bus_heartbeat(pid: int) -> bool:
            beat = json.loads(redis.get(heartbeat_key("notify")) or "{}")
            return beat.get("pid") == pid and beat.get("ok") is True

        kill_and_wait("notify-bus", bus_heartbeat)

        # A Celery worker's main process: the new one answers a ping (its old pool child went with its group).
        control = Celery(broker=redis_server.url).control  # the worker's own app is not needed for a ping
        node = f"notify@{socket.gethostname()}"  # `-n notify@%h` in the Procfile

        def worker_pings(_pid: int) -> bool:
            return any(node in reply for reply in control.ping(destination=[node], timeout=1.0))

        kill_and_wait("notify-worker", worker_pings)
        print(f"seconds from SIGKILL to working again: {recovery}")

        assert healthz(ports["matching"]) and healthz(ports["notify"])
        log = supervisor.supervisord_log()
        for name in ("notify", "notify-bus", "notify-worker"):
            assert f"exited: {name} (terminated by SIGKILL; not expected)" in log
        # The terminal shows each process's lines prefixed with its name, as honcho did.
        terminal = supervisor.terminal()
        assert re.search(r"^\d\d:\d\d:\d\d notify-bus +\| ", terminal, re.M), terminal[-2000:]
        assert re.search(r"^\d\d:\d\d:\d\d matching +\| .*Listening at", terminal, re.M), terminal[-2000:]
        assert {p["group"] for p in supervisor.info().values()} == {"web", "helpers", "prefix-logs"}

        started = time.monotonic()
        assert supervisor.stop() == 0
        print(f"stopped in {time.monotonic() - started:.1f} s")
        wait_until(lambda: not supervisor.leftovers(), timeout=15, what="no process left")
        for pid in before.values():
            assert group_gone(pid)
    except BaseException:
        print(f"supervisord.log:\n{supervisor.supervisord_log()[-4000:]}\nterminal:\n{supervisor.terminal()[-4000:]}")
        raise
    finally:
        supervisor.stop()
        left = supervisor.leftovers()
        supervisor.kill_leftovers()
        redis_server.stop()
    assert not left, f"processes left after the supervisor stopped: {left}"


def test_a_process_that_crashes_at_once_backs_off_and_stopping_leaves_nothing(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    python = sys.executable
    procfile.write_text(
        f"crash: {python} -c 'import sys; sys.exit(3)'\n"
        f"steady: {python} -c 'import time; print(\"steady up\", flush=True); time.sleep(600)'\n"
    )
    env = {**os.environ, "PROCFILE": str(procfile), "PYTHONUNBUFFERED": "1"}
    supervisor = Supervisor(tmp_path / "var", env, [])
    try:
        wait_until(lambda: supervisor.running(["steady"]), timeout=30, interval=0.5, what="steady up")
        steady = supervisor.pids(["steady"])
        time.sleep(8)
        spawns = supervisor.supervisord_log().count("spawned: 'crash'")
        # Backoff 1 s, 2 s, 3 s, ...: a handful of tries in ~13 s, not hundreds.
        assert 2 <= spawns <= 6, supervisor.supervisord_log()
        assert supervisor.info()["crash"]["statename"] in ("BACKOFF", "STARTING")
        assert supervisor.pids(["steady"]) == steady
        assert "steady up" in supervisor.terminal()
        assert supervisor.stop(signal.SIGHUP) == 0  # the terminal closed: stop, not supervisord's "reload"
        assert "stopped: steady" in supervisor.supervisord_log()
    except BaseException:
        print(f"supervisord.log:\n{supervisor.supervisord_log()[-4000:]}")
        raise
    finally:
        supervisor.stop()
        left = supervisor.leftovers()
        supervisor.kill_leftovers()
    assert not left, f"processes left after the supervisor stopped: {left}"
