"""A real, throwaway PostgreSQL 15 cluster for tests (Debian's server binaries; `make test` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _bin(name: str) -> str:
    found = shutil.which(name) or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)
    if not found:
        raise RuntimeError(f"{name} not found: run `make install-test` (apt-get install postgresql)")
    return found


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    def __init__(self) -> None:
        # Not under pytest's tmp dir: that one is private to root, and the server runs as `postgres`.
        self.base = Path(tempfile.mkdtemp(prefix="insightdays-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.pg_ctl = _bin("pg_ctl")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        subprocess.run(
            _as_postgres([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]),
            check=True,
            capture_output=True,
        )
        self.resume()

    def resume(self) -> None:
        """Start the server on the existing cluster (after `start()` made it, or after `halt()`)."""
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres([self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "log"), "-o", options, "start"]),
            check=True,
            capture_output=True,
        )
        import psycopg

        wait_until(lambda: psycopg.connect(self.admin_url).close() or True, what="postgres")

    def halt(self) -> None:
        """Stop the server, cutting every connection, but keep the cluster: the database is down until `resume()`."""
        stop = [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(stop), check=True, capture_output=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(self.base, ignore_errors=True)
