import services.posters.qa.models  # noqa: F401 - Q&A tables live on the same metadata
from services.posters.adapters.orm import Base
from shared.migrations_env import run_migrations

run_migrations(Base.metadata)
