from services.posters.adapters.orm import Base
from shared.migrations_env import run_migrations

run_migrations(Base.metadata)
