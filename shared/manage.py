"""Developer helper: `python -m shared.manage revision SERVICE "message"` autogenerates a migration."""

from __future__ import annotations

import sys
import tempfile

from alembic import command

from shared.db import alembic_config, migrate


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[0] != "revision":
        raise SystemExit('usage: python -m shared.manage revision SERVICE "message"')
    _, service, message = argv
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        migrate(service, url)  # diff the models against the current head
        command.revision(alembic_config(service, url), message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1:])
