#!/usr/bin/env bash
# End to end: start the dev server, wait until it is healthy, check the docs page in
# headless Chromium, stop the server (which removes its throwaway database).
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${E2E_PORT:-18090}
log=$(mktemp)
go build -o "${TMPDIR:-/tmp}/ledgerline-e2e" ./cmd/ledgerline
PORT=$port "${TMPDIR:-/tmp}/ledgerline-e2e" dev >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "dev server did not become healthy" >&2; cat "$log"; exit 1; }
scripts/e2e/docs.sh "http://127.0.0.1:$port"
