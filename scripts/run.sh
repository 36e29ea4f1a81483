#!/usr/bin/env bash
# Starts the whole system locally with native processes: every Procfile line under supervisord (scripts/supervise.py
# writes var/supervisord.conf from the Procfile). A process that crashes is restarted, the others keep running;
# output is prefixed with the process name and kept in var/log/NAME.log; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {  # the preferred port, or the next free one
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

export APP_ENV=${APP_ENV:-development}
# The local demo signs people up without a mail round trip; set EMAIL_VERIFICATION=on to try the real flow
# (the links arrive in var/mail).
export EMAIL_VERIFICATION=${EMAIL_VERIFICATION:-off}
export GATEWAY_PORT=${GATEWAY_PORT:-8000}
port_free "$GATEWAY_PORT" || { echo "port $GATEWAY_PORT is in use: stop what uses it or set GATEWAY_PORT"; exit 1; }
export POSTERS_PORT=${POSTERS_PORT:-$(pick_port 8001)}
export MATCHING_PORT=${MATCHING_PORT:-$(pick_port $((POSTERS_PORT + 1)))}
export NOTIFY_PORT=${NOTIFY_PORT:-$(pick_port $((MATCHING_PORT + 1)))}

# Every process in the Procfile (web services, bus processes, Celery workers and beats), less what is given.
without=()
mkdir -p var/redis var/mail var/log
if [ -z "${REDIS_URL:-}" ]; then  # a set REDIS_URL means "use that Redis, start none"
  export REDIS_PORT=${REDIS_PORT:-$(pick_port 6379)}
  # Even the local Redis needs a password (made once per checkout, kept in var/, never in code).
  if [ ! -s var/redis-password ]; then
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(24))" > var/redis-password)
  fi
  REDIS_PASSWORD="$(cat var/redis-password)"
  export REDIS_PASSWORD
  export REDIS_URL="redis://:${REDIS_PASSWORD}@127.0.0.1:${REDIS_PORT}/0"
else
  without+=(--without redis)
fi
if [ -z "${SMTP_HOST:-}" ]; then  # no mail server given: a local sink keeps the mails in var/mail
  export SMTP_HOST=127.0.0.1
  export SMTP_PORT=${SMTP_PORT:-8025}
else
  without+=(--without smtp)
fi

for service in gateway posters matching notify; do
  .venv/bin/flask --app "services.$service" migrate
done

echo "Insight Days starting: http://127.0.0.1:${GATEWAY_PORT}  (mail sink: var/mail, logs: var/log, Ctrl-C stops everything)"
echo "A crashed process is restarted; see them with: .venv/bin/supervisorctl -c ${VAR_DIR:-var}/supervisord.conf status"
# Demo data goes in through the public API once the gateway answers, like a real organiser would (a one-shot
# program of the same supervisord, so Ctrl-C stops it too).
exec .venv/bin/python scripts/supervise.py run "${without[@]}" \
  --once "seed-demo=.venv/bin/python scripts/seed_demo.py --wait --url http://127.0.0.1:${GATEWAY_PORT}"
