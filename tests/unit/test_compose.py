"""docker-compose.yml is parsed and checked: every process has its env, a healthcheck and a safe start order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "posters", "matching", "notify")
PROCESSES = [*SERVICES, *(f"{s}-bus" for s in SERVICES), *(f"{s}-worker" for s in SERVICES)]
BEATS = ("notify-beat", "posters-beat")  # the services with periodic tasks


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_redis_keeps_an_append_only_file_on_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "healthcheck" in redis


def test_postgres_gets_one_database_per_service(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    init = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v).split(":")[0]
    sql = (ROOT / init).read_text()
    assert sorted(re.findall(r"CREATE DATABASE (\w+);", sql)) == sorted(SERVICES)
    assert "healthcheck" in postgres


@pytest.mark.parametrize("name", [*PROCESSES, *BEATS])
def test_every_process_has_env_healthcheck_and_dependencies(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    env = svc["environment"]
    for key in ("REDIS_URL", "SECRET_KEY", "INTERNAL_SECRET", "APP_ENV", "SMTP_HOST"):
        assert key in env, f"{name} lacks {key}"
    for service in SERVICES:
        url = env[f"{service.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and url.endswith(f"/{service}")
    assert env["APP_ENV"] == "production"
    assert "${SECRET_KEY:?" in env["SECRET_KEY"], "secrets must come from the environment"
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


def test_procfile_runs_every_process_the_compose_file_runs(compose: dict[str, Any]) -> None:
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    for name in [*PROCESSES, *BEATS]:
        assert name in procfile, f"Procfile lacks {name}"
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    for name in [*PROCESSES, *BEATS]:
        assert name in run_sh, f"scripts/run.sh does not start {name}"


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
