#!/usr/bin/env bash
# Starts the whole system locally with native processes (honcho + Procfile); Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {  # the preferred port, or the next free one
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

export APP_ENV=${APP_ENV:-development}
export GATEWAY_PORT=${GATEWAY_PORT:-8000}
port_free "$GATEWAY_PORT" || { echo "port $GATEWAY_PORT is in use: stop what uses it or set GATEWAY_PORT"; exit 1; }
export POSTERS_PORT=${POSTERS_PORT:-$(pick_port 8001)}
export MATCHING_PORT=${MATCHING_PORT:-$(pick_port $((POSTERS_PORT + 1)))}
export NOTIFY_PORT=${NOTIFY_PORT:-$(pick_port $((MATCHING_PORT + 1)))}

procs=(gateway posters matching notify gateway-bus posters-bus matching-bus notify-bus
       gateway-worker posters-worker matching-worker notify-worker notify-beat posters-beat)
mkdir -p var/redis var/mail
if [ -z "${REDIS_URL:-}" ]; then  # a set REDIS_URL means "use that Redis, start none"
  export REDIS_PORT=${REDIS_PORT:-$(pick_port 6379)}
  export REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
  procs+=(redis)
fi
if [ -z "${SMTP_HOST:-}" ]; then  # no mail server given: a local sink keeps the mails in var/mail
  export SMTP_HOST=127.0.0.1
  export SMTP_PORT=${SMTP_PORT:-8025}
  procs+=(smtp)
fi

for service in gateway posters matching notify; do
  .venv/bin/flask --app "services.$service" migrate
done

# Demo data goes in through the public API once the gateway answers, like a real organiser would.
.venv/bin/python scripts/seed_demo.py --wait --url "http://127.0.0.1:${GATEWAY_PORT}" &

echo "Insight Days starting: http://127.0.0.1:${GATEWAY_PORT}  (mail sink: var/mail, Ctrl-C stops everything)"
exec .venv/bin/honcho start -f Procfile "${procs[@]}"
