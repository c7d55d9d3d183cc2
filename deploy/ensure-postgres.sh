#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) exist for oauth_etl_tests/deploy.
# Debian/Ubuntu: installs the `postgresql` package when missing (needs root or sudo).
# The tests start their own throwaway server on 127.0.0.1; the packaged service is not used.
set -euo pipefail

have_server() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
}

if have_server; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "ensure-postgres: initdb not found and no apt-get: install the PostgreSQL server yourself" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "ensure-postgres: need root (or sudo) to apt-get install postgresql" >&2
    exit 1
  fi
fi

echo "ensure-postgres: installing the postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! have_server; then
  echo "ensure-postgres: postgresql installed but initdb still not found" >&2
  exit 1
fi
