"""The body of every service's Alembic env.py (online mode; batch mode so SQLite can ALTER)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from shared.db import make_engine


def include_name_for(metadata: MetaData):  # type: ignore[no-untyped-def]
    """Autogenerate must not drop tables the models do not map on purpose (e.g. SQLite FTS5 virtual tables and
    their shadow tables): a service lists their name prefixes in metadata.info["unmanaged_table_prefixes"]."""
    prefixes = tuple(metadata.info.get("unmanaged_table_prefixes", ()))

    def include_name(name: str | None, type_: str, _parents: dict[str, str | None]) -> bool:
        return not (type_ == "table" and name and prefixes and name.startswith(prefixes))

    return include_name


def run_migrations(metadata: MetaData) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=True,
            include_name=include_name_for(metadata),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            include_name=include_name_for(metadata),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
