#!/usr/bin/env bash
# Installs the PostgreSQL server binaries when they are missing, so `make test` and
# `make run` work on a fresh Debian machine. Tests start throwaway clusters from them.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "${PG_BINDIR:-}" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL server binaries are missing: install the 'postgresql' package (Debian/Ubuntu)." >&2
  exit 1
fi
echo "Installing the PostgreSQL server package..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
# The package starts a system cluster we do not use.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for v in /usr/lib/postgresql/*; do pg_ctlcluster "$(basename "$v")" main stop >/dev/null 2>&1 || true; done
fi
