#!/bin/sh
# Runs once, when the Postgres volume is empty (docker-entrypoint-initdb.d): one login role per service, owning only
# its own database, so a service (or the posters worker that decodes untrusted files) that leaks its database URL
# exposes its own data and nothing else. Passwords come from GATEWAY_DB_PASSWORD etc. in the postgres container.
set -eu

for service in gateway posters matching notify; do
  password_var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$password_var" || true)"
  if [ -z "$password" ]; then
    echo "postgres-init: $password_var is not set" >&2
    exit 1
  fi
  # psql variables (:"name" identifiers, :'value' literals) quote the values; no string is pasted into SQL.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
