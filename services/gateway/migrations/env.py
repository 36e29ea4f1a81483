import services.gateway.chat.models  # noqa: F401 - the chat tables join Base.metadata
from services.gateway.adapters.orm import Base
from shared.migrations_env import run_migrations

run_migrations(Base.metadata)
