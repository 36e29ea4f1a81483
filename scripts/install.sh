#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian-like machine: redis-server, tesseract-ocr (and, with --test,
# Chromium), the Python virtualenv .venv with the project's dependencies, and the browser libraries from npm
# (node_modules/, never committed). Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
[ "${1:-}" = "--test" ] && with_test=1

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then
  echo "installing redis-server (Debian package)"
  apt_install redis-server
fi
# OCR of image posters (posters worker): without it uploads still work, the posters are just not searchable.
if ! tesseract --list-langs 2>/dev/null | grep -x eng >/dev/null; then
  echo "installing tesseract-ocr with English data (Debian packages)"
  apt_install tesseract-ocr tesseract-ocr-eng
fi
if [ $with_test -eq 1 ]; then
  command -v redis-server >/dev/null || apt_install redis-server
  command -v chromium >/dev/null || { echo "installing chromium (Debian package)"; apt_install chromium; }
  # The real-database tests start their own throwaway PostgreSQL cluster from the server binaries.
  [ -x /usr/lib/postgresql/15/bin/initdb ] || { echo "installing postgresql (Debian package)"; apt_install postgresql; }
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "creating .venv and installing Python dependencies"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Browser libraries (socket.io-client, chart.js, served by the gateway at /vendor/...): exactly what
# package-lock.json says; with --test also the dev dependencies (axe-core, injected by the accessibility tests).
# `npm ci` starts from an empty node_modules, so an old stamp goes with it.
npm_mode=$([ $with_test -eq 1 ] && echo dev || echo prod)
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
npm_stamp=node_modules/.installed-$npm_mode-$lock_hash
# A dev install also serves `make run` (it has everything the prod one has).
if [ ! -f "$npm_stamp" ] && [ ! -f "node_modules/.installed-dev-$lock_hash" ]; then
  command -v npm >/dev/null || { echo "installing npm (Debian package)"; apt_install npm; }
  echo "installing browser libraries (npm ci, $npm_mode)"
  if [ $npm_mode = dev ]; then npm ci --no-audit --no-fund; else npm ci --omit=dev --no-audit --no-fund; fi
  touch "$npm_stamp"
fi
