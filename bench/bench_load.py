"""Load test: simulated attendees (locust) against the whole system running as real processes on this machine.

Starts everything the Procfile runs (4 gunicorn web services, 4 bus processes, Celery workers and beats, SMTP
sink) plus its own redis-server, on free ports in a temp VAR_DIR, with RATE_LIMITS=off and APP_ENV=test; seeds an
insight day through the public API; then runs locust headless in a subprocess (bench/load_locustfile.py):

- ramp: the simulated users arrive (a sign-up burst) until every one is signed in, then 10 s more; measured but
  kept apart;
- phase A: steady load for --seconds;
- phase B: the same load for --seconds; half-way through, kill -9 one gunicorn worker of the gateway (gunicorn's
  master forks a new one) and the whole posters Celery worker, restarted --restart-after seconds later.

Prints both phases side by side: requests/s, p50/p95/p99 per request kind and overall, errors by kind, and lost
events: every account created during the run must get its welcome notification (UserRegistered -> bus -> notify),
every accepted poster upload its PosterReady/PosterRejected notification. Covers sign-up/sign-in, gallery, search,
project pages and previews, notifications and /me; booking and chat do not exist yet and are not covered.

    .venv/bin/python bench/bench_load.py [--users 500] [--seconds 60] [--spawn-rate 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import requests  # noqa: E402
from load_seed import seed  # noqa: E402
from load_system import LoadSystem, process_tree_cpu  # noqa: E402

PHASES = (("ramp", "ramp (arrivals)"), ("A", "A steady"), ("B", "B worker killed"))


# --- machine -------------------------------------------------------------------------------------------------
def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, all cores."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """Where the machine's CPU went between two marks: busy share of all cores, and per process (% of one core)."""

    def __init__(self, system: LoadSystem, locust_pid: int) -> None:
        self.system = system
        self.locust_pid = locust_pid
        self.cores = os.cpu_count() or 1
        self.mark()

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {**self.system.cpu_snapshot(), "locust (load generator)": process_tree_cpu(self.locust_pid)}

    def mark(self) -> None:
        self.machine = cpu_times()
        self.procs = self._snapshot()

    def since_mark(self) -> dict[str, Any]:
        (busy0, total0), procs0 = self.machine, self.procs
        self.mark()
        busy1, total1 = self.machine
        core = max(total1 - total0, 1) / self.cores  # jiffies one core had
        per = {
            name: 100 * sum(j - procs0.get(name, {}).get(pid, 0.0) for pid, j in tree.items()) / core
            for name, tree in self.procs.items()
        }
        return {"busy": 100 * (busy1 - busy0) / core, "per": per, "cores": self.cores}


# --- numbers -------------------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}" if value < 10_000 else f"{value / 1000:.0f}s"


def report(results: dict[str, Any], cpu: dict[str, dict[str, Any]], faults: dict[str, Any]) -> None:
    marks = results["marks"]
    spans = {"ramp": (0.0, marks["A"]), "A": (marks["A"], marks["B"]), "B": (marks["B"], marks["end"])}
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    error_kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for phase, name, _t, ms, error in results["samples"]:
        if phase not in spans:
            continue
        by[phase][name].append(ms)
        by[phase]["ALL"].append(ms)
        if error:
            errors[phase][name] += 1
            errors[phase]["ALL"] += 1
            error_kinds[phase][f"{name}: {error}"] += 1

    print(
        f"\n{results['users']} simulated users; phase lengths (s): "
        + ", ".join(f"{label} {spans[p][1] - spans[p][0]:.0f}" for p, label in PHASES)
    )
    shared = False
    for phase, label in PHASES:
        if phase in cpu:
            used = cpu[phase]
            top = sorted(((v, n) for n, v in used["per"].items() if v >= 1), reverse=True)
            other = used["busy"] - sum(used["per"].values())
            print(
                f"  CPU in {label}: {used['busy']:.0f}% of {100 * used['cores']}% busy; "
                + ", ".join(f"{n} {v:.0f}%" for v, n in top)
                + f"; other processes on the machine {max(other, 0):.0f}%"
            )
            shared = shared or other > 25
    if shared:
        print(
            "  NOTE: other processes took a good part of the CPU: this machine was shared during the run, so the "
            "numbers below are worse than the system alone would give"
        )
    header = f"{'request kind':<36}" + "".join(f"| {label:^33}" for _p, label in PHASES)
    sub = f"{'':<36}" + f"| {'n':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'err':>5} " * len(PHASES)
    print("\n" + header + "\n" + sub + "\n" + "-" * len(sub))
    names = sorted({n for p in by.values() for n in p if n != "ALL"})
    for name in [*names, "ALL"]:
        cells = []
        for phase, _label in PHASES:
            values = by[phase].get(name, [])
            cells.append(
                f"| {len(values):>6} {fmt_ms(percentile(values, 50)):>6} {fmt_ms(percentile(values, 95)):>6} "
                f"{fmt_ms(percentile(values, 99)):>6} {errors[phase].get(name, 0):>5} "
            )
        if name == "ALL":
            print("-" * len(sub))
        print(f"{name:<36}" + "".join(cells))
    print("(response times in ms; 12s = 12 seconds)")
    throughput = "  ".join(
        f"{label}: {len(by[p]['ALL']) / max(spans[p][1] - spans[p][0], 1e-9):.1f} req/s, "
        f"{errors[p].get('ALL', 0)} errors ({100 * errors[p].get('ALL', 0) / max(len(by[p]['ALL']), 1):.2f}%)"
        for p, label in PHASES
    )
    print(f"\nthroughput  {throughput}")
    for phase, label in PHASES:
        if error_kinds[phase]:
            print(f"errors in {label}:")
            for kind, count in error_kinds[phase].most_common():
                print(f"  {count:>5}  {kind}")
    if not any(error_kinds.values()):
        print("errors: none")
    else:
        print(
            "(connection reset / closed without a response: the client's connection to the gateway dropped, as for "
            "every request a killed gateway worker held; outside the kill, a keep-alive race (gunicorn keepalive 2 s) "
            "a browser retries on its own. HTTP 502/503: the gateway's call to a service failed, see the logs line)"
        )

    # Phase B second by second around the kill, in 5 s buckets.
    kill = marks["kill"]
    buckets: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for phase, _name, t, ms, error in results["samples"]:
        whole = math.floor((marks["end"] - marks["B"]) / 5)  # 5 s steps that fit in phase B
        if phase == "B" and math.floor((t - marks["B"]) / 5) < whole:
            buckets[math.floor((t - marks["B"]) / 5)].append((ms, error))
    print("\nphase B in 5 s steps (t = seconds from the kill):")
    for bucket in sorted(buckets):
        rows = buckets[bucket]
        p95 = percentile([ms for ms, _ in rows], 95)
        failed = sum(1 for _, e in rows if e)
        start = round(marks["B"] + bucket * 5 - kill)
        print(f"  t {start:+4d}..{start + 5:+4d}  {len(rows) / 5:6.1f} req/s  p95 {fmt_ms(p95):>6}  {failed} errors")
    if {"gateway_back", "worker_ready"} <= faults.keys():
        print(
            "faults: gateway worker pid {gateway_pid} killed at t {kill:.1f}s, a new worker answered after "
            "{gateway_back:.1f}s; posters Celery worker killed, restarted after {restart_after:.0f}s, ready after "
            "{worker_ready:.1f}s more".format(kill=kill, **faults)
        )
    else:
        print(f"faults: NOT all done (a step failed or timed out, see above): {faults}")


# --- lost events ---------------------------------------------------------------------------------------------
def _login(url: str, email: str, password: str) -> requests.Session | None:
    """A signed-in session, or None when the account does not exist (401); raises if the gateway never answers."""
    session = requests.Session()
    for attempt in range(5):
        try:
            response = session.post(f"{url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=60)
        except requests.RequestException:
            if attempt == 4:
                raise
            time.sleep(1)
            continue
        if response.status_code == 200:
            session.headers["Authorization"] = f"Bearer {response.json()['token']}"
            return session
        if response.status_code == 401:
            return None
        time.sleep(1)
    raise RuntimeError(f"sign-in of {email} kept failing: {response.status_code} {response.text[:200]}")


def _kinds(session: requests.Session, url: str) -> set[str]:
    kinds: set[str] = set()
    page = 1
    while True:
        body = session.get(f"{url}/api/v1/me/notifications?page={page}", timeout=60).json()
        kinds |= {item["kind"] for item in body["items"]}
        if not body.get("has_more"):
            return kinds
        page += 1


def lost_events(system: LoadSystem, results: dict[str, Any], settle: float) -> None:
    url = system.url
    uploads = results["uploads"]
    accounts = {r["email"]: r["password"] for r in [*results["registered"], *uploads]}
    print(f"\nlost events: signing in {len(accounts)} accounts to read their notifications ...", flush=True)
    with ThreadPoolExecutor(4) as pool:
        sessions = dict(zip(accounts, pool.map(lambda e: _login(url, e, accounts[e]), accounts), strict=True))
    # A sign-up the client saw fail without an answer (connection dropped, 5xx) counts if the account exists.
    merged: dict[str, dict[str, Any]] = {}  # one entry per account: a retried sign-up may have several
    for r in results["registered"]:
        if r["email"] not in merged or not r.get("uncertain"):
            merged[r["email"]] = r
    uncertain = [r for r in merged.values() if r.get("uncertain")]
    registered = [r for r in merged.values() if not r.get("uncertain") or sessions[r["email"]] is not None]
    unreachable = [r["email"] for r in registered if sessions[r["email"]] is None]

    def welcomed(email: str) -> bool:
        session = sessions[email]
        return session is not None and "welcome" in _kinds(session, url)

    def processed(upload: dict[str, Any]) -> bool:
        session = sessions[upload["email"]]
        return session is not None and bool({"poster_ready", "poster_rejected"} & _kinds(session, url))

    waiting = [r["email"] for r in registered]
    waiting_uploads = list(uploads)
    emails = [r["email"] for r in registered]
    deadline = time.monotonic() + settle
    while True:
        with ThreadPoolExecutor(4) as pool:
            waiting = [e for e, ok in zip(waiting, pool.map(welcomed, waiting), strict=True) if not ok]
            waiting_uploads = [
                u for u, ok in zip(waiting_uploads, pool.map(processed, waiting_uploads), strict=True) if not ok
            ]
        mailed = Counter(system.mail_recipients())
        unmailed = [e for e in emails if not mailed[e]]
        if (not waiting and not waiting_uploads and not unmailed) or time.monotonic() > deadline:
            break
        time.sleep(2)

    by_phase = Counter(r["phase"] for r in registered)
    print(
        f"registered {len(registered)} accounts ("
        + ", ".join(f"{p}: {by_phase[p]}" for p, _ in PHASES if by_phase[p])
        + f"); welcomed in-app {len(registered) - len(waiting)}; LOST {len(waiting)}"
        + (f" ({len(unreachable)} could not sign in)" if unreachable else "")
    )
    if uncertain:
        created = sum(1 for r in uncertain if sessions[r["email"]] is not None)
        print(f"  of which sign-ups the client saw fail (no answer or 5xx) but the account exists: {created}")
        print(f"  sign-ups that failed that way and created no account: {len(uncertain) - created}")
    if waiting:
        lost_phase = Counter(r["phase"] for r in registered if r["email"] in set(waiting))
        print("  lost welcomes by phase: " + ", ".join(f"{p}: {n}" for p, n in lost_phase.items()))
    duplicates = sum(1 for e in emails if mailed[e] > 1)
    print(f"welcome e-mails at the SMTP sink: {len(emails) - len(unmailed)} of {len(emails)}; duplicates {duplicates}")
    if uploads:
        stuck = []
        for upload in waiting_uploads:
            session = sessions[upload["email"]]
            status = "?"
            if session is not None:
                status = session.get(f"{url}/api/v1/posters/{upload['poster']}", timeout=60).json().get("status", "?")
            stuck.append(status)
        print(
            f"poster uploads accepted {len(uploads)}; "
            f"author told ready/rejected {len(uploads) - len(waiting_uploads)}; "
            f"not yet {len(waiting_uploads)}" + (f" (status now: {dict(Counter(stuck))})" if stuck else "")
        )
        if "processing" in stuck:
            print(
                "  an upload still `processing` was on the killed posters worker: kombu re-queues it after "
                "visibility_timeout (600 s) or beat's requeue_stale after 10-15 min (services/posters/README.md)"
            )
    state = system.bus_state()
    print(
        f"bus: {state['stream_length']} events on the stream, {state['dead_letters']} dead letters; "
        + ", ".join(f"{g}: pending {v['pending']} lag {v['lag']}" for g, v in state["groups"].items())
    )
    dead = system.dead_processes()
    if dead:
        print(f"processes that died during the run: {', '.join(dead)}")


def log_findings(system: LoadSystem) -> None:
    """What the processes logged about trouble during the run (the reasons behind 5xx answers)."""
    needles = ("upstream unavailable", "upstream timeout", "Traceback", "WORKER TIMEOUT", "Worker exiting", "ERROR")
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for path in sorted(system.log_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "was sent SIGKILL" in line:
                continue  # the gateway worker this script killed
            for needle in needles:
                if needle in line:
                    found[path.stem][needle] += 1
    if found:
        print(
            "in the logs: "
            + "; ".join(f"{n}: " + ", ".join(f"{k} x{v}" for k, v in c.items()) for n, c in found.items())
        )


# --- the run -------------------------------------------------------------------------------------------------
def inject_faults(system: LoadSystem, restart_after: float, out: dict[str, Any]) -> None:
    """Runs in a thread while the locust runner keeps going; an exception here is printed and noted in `out`."""
    try:
        _inject_faults(system, restart_after, out)
    except Exception as exc:
        out["error"] = repr(exc)
        print(f"load: fault injection failed: {exc!r}", file=sys.stderr, flush=True)


def _inject_faults(system: LoadSystem, restart_after: float, out: dict[str, Any]) -> None:
    started = time.monotonic()
    pid = system.kill_gateway_worker()
    system.kill_worker("posters-worker")
    out["gateway_pid"] = pid
    system.wait_gateway_back(pid)
    out["gateway_back"] = time.monotonic() - started
    time.sleep(max(0.0, restart_after - (time.monotonic() - started)))
    out["restart_after"] = time.monotonic() - started
    system.restart_worker("posters-worker")
    system.wait_worker_ready("posters-worker")
    out["worker_ready"] = time.monotonic() - started - out["restart_after"]


def run(args: argparse.Namespace, tmp: Path) -> int:
    system = LoadSystem(tmp)
    locust: subprocess.Popen[str] | None = None
    fault_thread: threading.Thread | None = None
    try:
        print(f"load: starting the system in {tmp} ...", flush=True)
        system.start()
        print(f"load: gateway at {system.url}; seeding an insight day through the API ...", flush=True)
        started = time.monotonic()
        config = seed(system.url, system.env, projects=args.projects, with_posters=args.posters)
        print(
            f"load: seeded {len(config['projects'])} projects, {len(config['posters'])} posters ready "
            f"({time.monotonic() - started:.0f}s)",
            flush=True,
        )
        config.update(think=args.think, author_share=args.author_share, session=args.session, timeout=args.timeout)
        (tmp / "load-config.json").write_text(json.dumps(config))
        busy0, total0 = cpu_times()
        time.sleep(3)
        busy1, total1 = cpu_times()
        idle_busy = 100 * (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)
        print(
            f"load: before the load the machine is {idle_busy:.0f}% busy (the system idle + anything else)", flush=True
        )
        results_path = tmp / "load-results.json"
        locust = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "load_locustfile.py"),
                "--host",
                system.url,
                "--config",
                str(tmp / "load-config.json"),
                "--results",
                str(results_path),
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--seconds",
                str(args.seconds),
            ],
            stdout=subprocess.PIPE,
            stderr=open(tmp / "locust.log", "w"),  # noqa: SIM115 - lives as long as the process
            text=True,
            start_new_session=True,
        )
        print(
            f"load: {args.users} users arriving at {args.spawn_rate}/s, then 2 x {args.seconds:.0f}s "
            f"(think time {args.think[0]:.0f}-{args.think[1]:.0f}s) ...",
            flush=True,
        )
        faults: dict[str, Any] = {}
        cpu: dict[str, dict[str, Any]] = {}
        meter, phase = CpuMeter(system, locust.pid), "ramp"
        assert locust.stdout is not None
        for line in locust.stdout:
            word = line.split()[0] if line.split() else ""
            if word in ("PHASE", "END"):
                cpu[phase] = meter.since_mark()
                phase = line.split()[1] if word == "PHASE" else "end"
                print(f"load: {line.strip()} s", flush=True)
            elif word == "KILL":
                print(
                    f"load: killing a gateway worker and the posters Celery worker at {line.split()[1]} s", flush=True
                )
                fault_thread = threading.Thread(target=inject_faults, args=(system, args.restart_after, faults))
                fault_thread.start()
        if locust.wait() != 0 or not results_path.exists():
            print((tmp / "locust.log").read_text()[-5000:], file=sys.stderr)
            raise SystemExit("load: the locust runner failed")
        if fault_thread is not None:
            fault_thread.join()
        results = json.loads(results_path.read_text())
        report(results, cpu, faults)
        lost_events(system, results, args.settle)
        log_findings(system)
        print("\nnot covered yet: booking 1-1 chats and chat (later issues); live notifications over Socket.IO.")
        return 0
    except KeyboardInterrupt:
        print("load: interrupted; stopping everything", file=sys.stderr)
        raise
    except Exception:
        print(f"load: failed; the end of each process's log:\n{system.logs()}", file=sys.stderr)
        raise
    finally:
        if locust is not None and locust.poll() is None:
            os.killpg(locust.pid, signal.SIGTERM)
            try:
                locust.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(locust.pid, signal.SIGKILL)
                locust.wait()
        if fault_thread is not None:
            fault_thread.join(timeout=120)
        system.stop()
        if args.logs:
            shutil.copytree(system.log_dir, args.logs, dirs_exist_ok=True)
            if (tmp / "locust.log").exists():
                shutil.copy(tmp / "locust.log", args.logs / "locust.log")
            print(f"load: the log of every process is in {args.logs}")


def _interrupted(*_args: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60, help="length of phase A and of phase B")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users arriving per second at the start")
    parser.add_argument("--think", type=lambda s: tuple(float(x) for x in s.split(",")), default=(3.0, 9.0))
    parser.add_argument(
        "--session",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=(10, 40),
        help="things a visitor does before leaving (min,max); the next visitor then signs up or in",
    )
    parser.add_argument("--author-share", type=float, default=0.02, help="new visitors who upload a poster")
    parser.add_argument("--restart-after", type=float, default=5, help="seconds before the Celery worker restarts")
    parser.add_argument("--projects", type=int, default=60)
    parser.add_argument("--posters", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60, help="seconds a simulated user waits for an answer")
    parser.add_argument("--logs", type=Path, help="copy every process's log here at the end")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for welcomes after the run")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)  # like Ctrl-C: the finally blocks stop everything
    signal.signal(signal.SIGINT, _interrupted)  # also when started from a shell that ignores Ctrl-C for it
    try:
        with tempfile.TemporaryDirectory(prefix="insightdays-load-") as tmp:
            return run(args, Path(tmp))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
