"""The body of every service's Alembic env.py (online mode; batch mode so SQLite can ALTER)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from shared.db import make_engine


def run_migrations(metadata: MetaData) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
