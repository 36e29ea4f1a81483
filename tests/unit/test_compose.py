"""docker-compose.yml is parsed and checked: every process has its env, a restart policy, a healthcheck that
detects a stuck process and a safe start order; the Procfile (what `make run` supervises) runs the same set."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "posters", "matching", "notify")
PROCESSES = [*SERVICES, *(f"{s}-bus" for s in SERVICES), *(f"{s}-worker" for s in SERVICES)]
BEATS = ("notify-beat", "posters-beat", "matching-beat")  # the services with periodic tasks


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _redis_command(compose: dict[str, Any]) -> str:
    command = compose["services"]["redis"]["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_redis_keeps_an_append_only_file_on_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert "--appendonly yes" in _redis_command(compose)
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "healthcheck" in redis


def test_postgres_gets_one_database_and_role_per_service(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    init = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v).split(":")[0]
    script = (ROOT / init).read_text()
    assert re.search(r"for service in gateway posters matching notify; do", script)
    assert 'CREATE ROLE :"role" LOGIN PASSWORD' in script and 'CREATE DATABASE :"role" OWNER :"role"' in script
    assert 'REVOKE ALL ON DATABASE :"role" FROM PUBLIC' in script  # no role may even connect to another's database
    for service in SERVICES:
        assert f"${{{service.upper()}_DB_PASSWORD:?" in postgres["environment"][f"{service.upper()}_DB_PASSWORD"]
    assert "healthcheck" in postgres


def _service_of(name: str) -> str:
    return name.split("-")[0]


@pytest.mark.parametrize("name", [*PROCESSES, *BEATS])
def test_every_process_has_env_healthcheck_and_dependencies(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    env = svc["environment"]
    for key in ("REDIS_URL", "SECRET_KEY", "IDENTITY_PUBLIC_KEY", "APP_ENV"):
        assert key in env, f"{name} lacks {key}"
    assert env["APP_ENV"] == "production"
    assert "${" in env["SECRET_KEY"] and ":?" in env["SECRET_KEY"], "secrets must come from the environment"
    assert svc["healthcheck"]["test"], f"{name} has no healthcheck"
    deps = svc["depends_on"]
    assert deps["redis"]["condition"] == "service_healthy"
    assert deps["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", SERVICES)
def test_helpers_start_after_their_service_has_migrated(compose: dict[str, Any], service: str) -> None:
    web = compose["services"][service]
    assert f"flask --app services.{service} migrate" in web["command"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    for helper in (f"{service}-bus", f"{service}-worker"):
        deps = compose["services"][helper]["depends_on"]
        assert deps[service]["condition"] == "service_healthy", f"{helper} must wait for {service}"
    assert f"services.{service}" in compose["services"][f"{service}-bus"]["command"]
    assert f"-Q {service}" in compose["services"][f"{service}-worker"]["command"]


def test_gateway_waits_for_the_services_it_routes_to(compose: dict[str, Any]) -> None:
    deps = compose["services"]["gateway"]["depends_on"]
    assert all(deps[s]["condition"] == "service_healthy" for s in ("posters", "matching", "notify"))
    assert "8000:8000" in compose["services"]["gateway"]["ports"]


@pytest.mark.parametrize("beat", BEATS)
def test_each_beat_runs_the_schedule_of_its_own_service(compose: dict[str, Any], beat: str) -> None:
    service = beat.removesuffix("-beat")
    assert f"celery -A services.{service}.worker beat" in compose["services"][beat]["command"]
    assert compose["services"][beat]["depends_on"][service]["condition"] == "service_healthy"


def _procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def test_procfile_runs_every_process_the_compose_file_runs(compose: dict[str, Any]) -> None:
    procfile = _procfile()
    for name in [*PROCESSES, *BEATS]:
        assert name in procfile, f"Procfile lacks {name}"
    # The same set both ways: locally the Procfile also starts Redis and a mail sink; compose has Postgres.
    assert set(procfile) - {"smtp"} == set(compose["services"]) - {"postgres"}


def _supervise() -> Any:
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_run_supervises_every_procfile_process_with_restarts(tmp_path: Path) -> None:
    """scripts/run.sh runs scripts/supervise.py, whose supervisord config (parsed by supervisor itself) has every
    Procfile line as a program that is restarted, backs off, and is stopped with its whole process group."""
    from supervisor.datatypes import RestartUnconditionally
    from supervisor.options import ServerOptions

    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    assert "scripts/supervise.py run" in run_sh and "honcho" not in run_sh
    assert "--without redis" in run_sh and "--without smtp" in run_sh  # REDIS_URL / SMTP_HOST given: not started

    supervise = _supervise()
    procfile = supervise.read_procfile(ROOT / "Procfile")
    assert procfile == {name: command.strip() for name, command in _procfile().items()}
    path = tmp_path / "supervisord.conf"
    (tmp_path / "log").mkdir()
    path.write_text(supervise.render(list(procfile), procfile, {"seed": "true"}, tmp_path, False))
    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    programs = {p.name: (g.name, p) for g in options.process_group_configs for p in g.process_configs}
    assert set(programs) == {*procfile, "seed", "prefix-logs"}
    for name, command in procfile.items():
        group, program = programs[name]
        assert group == supervise.tier(name)
        assert program.command == "/bin/sh -c " + shlex.quote("exec " + command)  # `%h` etc. survive as written
        assert program.autorestart is RestartUnconditionally
        assert program.startretries >= 5 and program.startsecs > 0  # a crash at start backs off, then FATAL
        assert program.killasgroup and not program.stopasgroup  # SIGTERM to Celery's main process only
        assert program.stdout_events_enabled  # copied to the terminal with a name prefix
        assert program.stdout_logfile == str(tmp_path / "log" / f"{name}.log")
    assert programs["seed"][1].autorestart is False
    priority = {g.name: g.priority for g in options.process_group_configs}
    assert priority["infra"] < priority["web"] < priority["helpers"]  # Redis first up, last down


LONG_RUNNING = ["redis", "postgres", *PROCESSES, *BEATS]
WEB_PORTS = {"gateway": 8000, "posters": 8001, "matching": 8002, "notify": 8003}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_container_is_restarted(compose: dict[str, Any], name: str) -> None:
    assert compose["services"][name].get("restart") in ("unless-stopped", "always", "on-failure")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_healthcheck_detects_a_stuck_process(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    check = svc["healthcheck"]
    test = check["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and all(isinstance(t, str) for t in test)
    assert check["retries"] >= 1 and check["timeout"] and check["interval"]
    command = " ".join(test[1:])
    if name in ("redis", "postgres"):
        return
    service = name.split("-")[0]
    if name in SERVICES:  # a request that needs the web process to answer
        port = WEB_PORTS[name]
        assert f":{port}/healthz" in command and f"-b 0.0.0.0:{port}" in svc["command"]
    elif name.endswith("-bus"):  # heartbeat written only while every bus loop makes progress
        assert test == ["CMD", "python", "-m", "shared.probe", "bus", service]
    elif name.endswith("-worker"):  # the worker's main process answers a ping addressed to it by name
        assert f"-n {service}@%h" in svc["command"]
        assert test[0] == "CMD-SHELL", "$HOSTNAME (the worker's %h) is only expanded by a shell"
        assert f"celery -A services.{service}.worker inspect ping" in command
        assert f"-d {service}@$$HOSTNAME" in command  # $$: compose's escape for a literal $
    elif name.endswith("-beat"):  # beat keeps touching its schedule file
        schedule = svc["command"].split(" -s ", 1)[1].split()[0]
        assert test == ["CMD", "python", "-m", "shared.probe", "beat", schedule]
        assert any(v.endswith(":" + str(Path(schedule).parent)) for v in svc["volumes"])
    else:
        raise AssertionError(f"no healthcheck rule for {name}")


def test_no_dependency_cycles(compose: dict[str, Any]) -> None:
    graph = {name: set((svc.get("depends_on") or {}).keys()) for name, svc in compose["services"].items()}
    seen: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"cycle: {' -> '.join((*path, node))}"
        if node in seen:
            return
        for dep in graph[node]:
            assert dep in graph, f"{node} depends on unknown {dep}"
            visit(dep, (*path, node))
        seen.add(node)

    for name in graph:
        visit(name, ())


def test_probe_commands_exist_for_processes_without_http(compose: dict[str, Any]) -> None:
    from shared import probe

    for name in ("gateway-bus", *BEATS):
        cmd = compose["services"][name]["healthcheck"]["test"]
        assert cmd[1:4] == ["python", "-m", "shared.probe"]
        assert probe.main([]) == 2  # usage error is not "healthy"
        assert probe.main(["beat", "/nonexistent"]) == 1


def test_image_builds_browser_assets_from_the_registry() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile and "COPY --from=assets" in dockerfile
    assert "NODE_MODULES_DIR" in dockerfile
    package = (ROOT / "package.json").read_text()
    assert "socket.io-client" in package


@pytest.mark.parametrize("worker", ["posters-worker", "notify-worker"])
def test_workers_get_time_to_finish_a_task_on_deploy(compose: dict[str, Any], worker: str) -> None:
    grace = compose["services"][worker]["stop_grace_period"]
    assert grace.endswith("m") and int(grace[:-1]) * 60 > 240  # longer than the posters task's hard time limit


# --- one container, one set of keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PROCESSES, *BEATS])
def test_each_process_gets_only_its_own_database_redis_user_and_secret(compose: dict[str, Any], name: str) -> None:
    service = _service_of(name)
    env = compose["services"][name]["environment"]
    urls = {key: value for key, value in env.items() if key.endswith("_DATABASE_URL")}
    assert list(urls) == [f"{service.upper()}_DATABASE_URL"], f"{name} sees other databases: {sorted(urls)}"
    assert urls[f"{service.upper()}_DATABASE_URL"].startswith(f"postgresql+psycopg://{service}:${{")
    assert urls[f"{service.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    assert env["REDIS_URL"].startswith(f"redis://{service}:${{REDIS_{service.upper()}_PASSWORD:?")
    assert f"{service.upper()}_" in env["SECRET_KEY"], "each service signs with a secret key of its own"
    assert "INTERNAL_SECRET" not in env and "POSTGRES_PASSWORD" not in " ".join(map(str, env.values()))
    if service != "notify":
        assert "SMTP_HOST" not in env
    if service != "gateway":
        assert "IDENTITY_PRIVATE_KEY" not in env, f"{name} could mint identities"
        assert not {"POSTERS_URL", "MATCHING_URL", "NOTIFY_URL"} & set(env), "only the gateway calls services"


def test_only_gateway_processes_hold_the_private_identity_key(compose: dict[str, Any]) -> None:
    holders = {
        name for name, svc in compose["services"].items() if "IDENTITY_PRIVATE_KEY" in svc.get("environment", {})
    }
    assert holders and all(_service_of(name) == "gateway" for name in holders)


def test_the_media_worker_has_a_secret_of_its_own(compose: dict[str, Any]) -> None:
    """The posters worker decodes untrusted PDFs and videos: if one exploits it, it must not yield the web
    service's secret, the signing key or any other database."""
    worker = compose["services"]["posters-worker"]["environment"]
    web = compose["services"]["posters"]["environment"]
    assert worker["SECRET_KEY"] != web["SECRET_KEY"] and "POSTERS_WORKER_SECRET_KEY" in worker["SECRET_KEY"]
    assert {k for k in worker if k.endswith("_DATABASE_URL")} == {"POSTERS_DATABASE_URL"}


def test_redis_requires_a_password_with_one_acl_user_per_service(compose: dict[str, Any]) -> None:
    command = _redis_command(compose)
    assert "--user default off" in command, "no anonymous access"
    for service in SERVICES:
        rule = re.search(rf"--user {service} on \">\$\$REDIS_{service.upper()}_PASSWORD\"([^\n]*?)(--user|$)", command)
        assert rule, f"no ACL user for {service}"
        assert "-@admin" in rule.group(1) and "-flushall" in rule.group(1)
        env = compose["services"]["redis"]["environment"][f"REDIS_{service.upper()}_PASSWORD"]
        assert env.startswith(f"${{REDIS_{service.upper()}_PASSWORD:?")
    assert "--user probe on nopass -@all +ping" in command  # the healthcheck may only PING
    assert "--user probe" in " ".join(compose["services"]["redis"]["healthcheck"]["test"])


def test_local_run_protects_redis_with_a_generated_password() -> None:
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    assert "var/redis-password" in run_sh and 'REDIS_URL="redis://:${REDIS_PASSWORD}@' in run_sh
    assert "--requirepass $REDIS_PASSWORD" in _procfile()["redis"]


def test_every_app_container_added_later_is_isolated_too(compose: dict[str, Any]) -> None:
    """Any container of the app image (a new beat or worker included) has an environment of exactly one service."""
    for name, svc in compose["services"].items():
        if svc.get("image") != "insightdays:latest":
            continue
        service = _service_of(name)
        assert service in SERVICES, f"{name}: name it <service>-<role>"
        env = svc.get("environment") or {}
        assert {k for k in env if k.endswith("_DATABASE_URL")} == {f"{service.upper()}_DATABASE_URL"}, name
        assert env["REDIS_URL"].startswith(f"redis://{service}:"), name
        assert ("IDENTITY_PRIVATE_KEY" in env) == (service == "gateway"), name


def test_the_env_example_lists_every_secret_compose_requires() -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / "deploy" / "env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in example if "=" in line and not line.startswith("#")}
    assert required and required <= listed, sorted(required - listed)
