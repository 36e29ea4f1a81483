"""deploy/postgres-init.sh (what the compose Postgres runs on an empty volume) against a real PostgreSQL 15: each
service's role reaches its own database and no other one."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "posters", "matching", "notify")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresServer]:
    server = PostgresServer()  # its own cluster: the script creates cluster-wide roles
    server.start()
    yield server
    server.stop()


def test_each_service_role_owns_only_its_database(cluster: PostgresServer) -> None:
    env = {
        **os.environ,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        **{f"{s.upper()}_DB_PASSWORD": f"pw-{s}-'quoted\"" for s in SERVICES},  # quoting must hold
    }
    assert shutil.which("psql")
    subprocess.run(["sh", str(ROOT / "deploy" / "postgres-init.sh")], env=env, check=True, capture_output=True)
    for service in SERVICES:
        with psycopg.connect(f"postgresql://{service}@127.0.0.1:{cluster.port}/{service}") as own:
            own.execute("CREATE TABLE probe (id int)")  # migrations need this: PG15 gives it to the owner only
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(psycopg.OperationalError, match="permission denied|CONNECT privilege"):
                psycopg.connect(f"postgresql://{service}@127.0.0.1:{cluster.port}/{other}").close()
    with psycopg.connect(cluster.admin_url) as admin:
        superusers = admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolsuper AND rolname = ANY(%s)", (list(SERVICES),)
        ).fetchall()
    assert superusers == []


def test_the_script_refuses_to_run_without_a_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_PASSWORD")}
    result = subprocess.run(["sh", str(ROOT / "deploy" / "postgres-init.sh")], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "GATEWAY_DB_PASSWORD is not set" in result.stderr
