"""Run Procfile processes under supervisord (the `supervisor` package): a crashed process is restarted, the rest
keeps running, Ctrl-C stops everything.

    python scripts/supervise.py run [NAME...] [--without NAME]... [--once NAME=COMMAND]...
        write VAR_DIR/supervisord.conf, then run supervisord in the foreground until a signal stops it
    python scripts/supervise.py config [NAME...] [--without NAME]... [--once NAME=COMMAND]...
        only write the config; print its path
    python scripts/supervise.py prefix-logs [--color]   (internal) the supervisord event listener

No NAME means every process in the Procfile (less the `--without` ones).

The Procfile stays the one list of processes: each `name: command` line becomes a `[program:name]` run as
`/bin/sh -c 'exec command'` in the repository root, so `$VARS` expand as they did under honcho and the program
itself (not a shell) is the pid supervisord watches. A line must therefore be one command (no `&&`, `|`, `;`).
`--once` adds a one-shot program (the demo seed): started with the others, never restarted.

Processes are grouped (`tier()`): infra (redis, smtp), web (names without a dash), helpers (bus processes, Celery
workers and beats), once. Groups start in that order and stop in the reverse one, each group's processes together;
supervisorctl names a process GROUP:NAME, e.g. `supervisorctl -c var/supervisord.conf restart web:notify`.

Restart policy: a process that exits or is killed is started again at once; one that dies within STARTSECS of
being started waits 1 s, 2 s, 3 s, ... before the next try and is given up (state FATAL, said in the output) after
STARTRETRIES tries in a row, about two minutes; `supervisorctl ... start GROUP:NAME` tries again. Stopping sends
SIGTERM to each program (gunicorn, Celery and the rest stop their own children) and, after STOPWAITSECS, SIGKILL
to its whole process group, so nothing is left behind.

Output: every process writes to VAR_DIR/log/NAME.log (rotated at 10 MB); the `prefix-logs` event listener copies
each line to the terminal as `HH:MM:SS name | line`, like honcho did; supervisord's own lines (spawned, exited,
gave up) go to the terminal and VAR_DIR/log/supervisord.log.

Paths come from the environment: VAR_DIR (default `var` in the repository root), PROCFILE (default `Procfile`).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTSECS = 5  # a process must stay up this long to count as started
STARTRETRIES = 15  # backoff 1 s, 2 s, ... 15 s between tries (~2 min), then FATAL
STOPWAITSECS = 10  # SIGTERM to the program, then SIGKILL to its process group after this long
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
COLORS = ("36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91")


def read_procfile(path: Path) -> dict[str, str]:
    procs: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        if not match:
            raise SystemExit(f"{path}:{number}: not a `name: command` line")
        procs[match[1]] = match[2].strip()
    return procs


def _value(text: str) -> str:
    """A value for supervisord's ini file: `%` is its interpolation, ` ;` and ` #` start a comment."""
    if re.search(r"\s[;#]", text) or "\n" in text:
        raise SystemExit(f"cannot put {text!r} in supervisord.conf (a ' ;', ' #' or newline would be cut)")
    return text.replace("%", "%%")


def _program(name: str, command: str, log_dir: Path, *, once: bool = False) -> str:
    shell = f"/bin/sh -c {shlex.quote('exec ' + command)}"
    lines = [
        f"[program:{name}]",
        f"command={_value(shell)}",
        f"directory={_value(str(ROOT))}",
        "autostart=true",
        f"autorestart={'false' if once else 'true'}",
        f"startsecs={0 if once else STARTSECS}",
        f"startretries={0 if once else STARTRETRIES}",
        "stopsignal=TERM",
        f"stopwaitsecs={STOPWAITSECS}",
        # SIGTERM to the program only: gunicorn's master and Celery's main process stop their children themselves
        # (a Celery pool child signalled directly would lose the task it is running); SIGKILL to the whole group.
        "stopasgroup=false",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={_value(str(log_dir / name))}.log",
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=1",
        "stdout_events_enabled=true",  # the prefix-logs listener copies each line to the terminal
        'environment=PYTHONUNBUFFERED="1"',
    ]
    return "\n".join(lines)


def tier(name: str) -> str:
    """The supervisord group of a process. Groups start in this order and stop in the reverse one; the processes
    of one group stop together (supervisord stops one group at a time)."""
    if name in ("redis", "smtp"):
        return "infra"
    return "web" if "-" not in name else "helpers"


TIERS = {"infra": 10, "web": 50, "helpers": 100, "once": 900}


def render(names: list[str], procfile: dict[str, str], once: dict[str, str], var_dir: Path, color: bool) -> str:
    unknown = [n for n in names if n not in procfile]
    if unknown:
        raise SystemExit(f"not in the Procfile: {', '.join(unknown)}")
    listener = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} prefix-logs"
    if color:
        listener += " --color"
    width = max(len(n) for n in [*names, *once])
    socket = _value(str(var_dir / "supervisor.sock"))
    password = secrets.token_urlsafe(16)  # new on every start; the config file is readable by its owner only
    sections = [
        "; Generated by scripts/supervise.py from the Procfile on every `make run`: edit the Procfile, not this.",
        "[supervisord]",
        "nodaemon=true",
        *(["user=root"] if os.geteuid() == 0 else []),
        f"logfile={_value(str(var_dir / 'log' / 'supervisord.log'))}",
        "logfile_maxbytes=10MB",
        "logfile_backups=1",
        f"pidfile={_value(str(var_dir / 'supervisord.pid'))}",
        f"childlogdir={_value(str(var_dir / 'log'))}",
        "identifier=insightdays",
        "",
        "[unix_http_server]",
        f"file={socket}",
        "chmod=0700",
        "username=insightdays",
        f"password={password}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{socket}",
        "username=insightdays",
        f"password={password}",
        "",
        "[eventlistener:prefix-logs]",
        f"command={_value(listener)} --width {width}",
        f"directory={_value(str(ROOT))}",
        "events=PROCESS_LOG",
        "buffer_size=100000",  # a burst of startup output must not overflow the listener's queue
        "priority=1",  # started first, stopped last: the last lines of the others still reach the terminal
        "autorestart=true",
        "stderr_logfile=/dev/stdout",  # the listener writes the prefixed lines to stderr (stdout is the protocol)
        "stderr_logfile_maxbytes=0",
        "stdout_logfile=NONE",
        'environment=PYTHONIOENCODING="utf-8"',
        "",
    ]
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(tier(name), []).append(name)
        sections += [_program(name, procfile[name], var_dir / "log"), ""]
    for name, command in once.items():
        groups.setdefault("once", []).append(name)
        sections += [_program(name, command, var_dir / "log", once=True), ""]
    for group, members in groups.items():
        sections += [f"[group:{group}]", f"programs={','.join(members)}", f"priority={TIERS[group]}", ""]
    return "\n".join(sections)


def write_config(names: list[str], without: list[str], once: dict[str, str], color: bool = False) -> Path:
    var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
    if not var_dir.is_absolute():
        var_dir = ROOT / var_dir
    procfile = read_procfile(Path(os.environ.get("PROCFILE") or ROOT / "Procfile"))
    names = [n for n in (names or list(procfile)) if n not in without]
    if not names:
        raise SystemExit("no process to run")
    (var_dir / "log").mkdir(parents=True, exist_ok=True)
    path = var_dir / "supervisord.conf"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the control socket's password
    with os.fdopen(fd, "w") as f:
        f.write(render(names, procfile, once, var_dir, color))
    return path


def prefix_logs(color: bool, width: int) -> None:
    """supervisord event listener: PROCESS_LOG events in, `HH:MM:SS name | line` out (on stderr)."""
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")  # `len:` counts characters
    out = sys.stderr
    partial: dict[str, str] = {}
    colors: dict[str, str] = {}

    def emit(name: str, line: str) -> None:
        label = f"{time.strftime('%H:%M:%S')} {name.ljust(width)} |"
        if color:
            code = colors.setdefault(name, COLORS[len(colors) % len(COLORS)])
            label = f"\033[{code}m{label}\033[0m"
        out.write(f"{label} {line}\n")

    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        line = stdin.readline()
        if not line:  # supervisord closed the pipe: it is going away
            return
        header = dict(token.split(":", 1) for token in line.split())
        payload = stdin.read(int(header["len"]))
        meta, _, data = payload.partition("\n")
        name = dict(token.split(":", 1) for token in meta.split()).get("processname", "?")
        lines = (partial.pop(name, "") + data).split("\n")
        if lines[-1]:
            partial[name] = lines[-1]  # the rest of this line comes with the next chunk
        for line in lines[:-1]:
            emit(name, line.rstrip("\r"))
        out.flush()
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("run", "config"):
        p = sub.add_parser(command)
        p.add_argument("names", nargs="*", help="Procfile process names (default: all)")
        p.add_argument("--without", action="append", default=[], metavar="NAME", help="leave this one out")
        p.add_argument("--once", action="append", default=[], metavar="NAME=COMMAND", help="a one-shot program")
    p = sub.add_parser("prefix-logs")
    p.add_argument("--color", action="store_true")
    p.add_argument("--width", type=int, default=16)
    args = parser.parse_args(argv)

    if args.command == "prefix-logs":
        prefix_logs(args.color, args.width)
        return 0
    once = dict(item.split("=", 1) for item in args.once)
    color = args.command == "run" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    path = write_config(args.names, args.without, once, color)
    if args.command == "config":
        print(path)
        return 0
    return run_supervisord(path)


def run_supervisord(config: Path) -> int:
    """supervisord in the foreground, in its own session; SIGINT (Ctrl-C), SIGTERM and SIGHUP (terminal closed) all
    become SIGTERM to it, i.e. stop everything (supervisord itself would take SIGHUP as "reload")."""
    supervisord = Path(sys.executable).parent / "supervisord"
    proc: subprocess.Popen[bytes] | None = None
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    proc = subprocess.Popen([str(supervisord), "--nodaemon", "--configuration", str(config)], start_new_session=True)
    if stopping:  # a signal came before supervisord was there to pass it to
        proc.send_signal(signal.SIGTERM)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
