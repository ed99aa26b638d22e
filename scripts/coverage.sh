#!/usr/bin/env bash
# Prints per-package coverage of shared/ and fails when the total is below the floor.
set -euo pipefail
profile=${1:-coverage.out}
floor=${COVERAGE_FLOOR:-80}
total=$(go tool cover -func="$profile" | awk '/^total:/ {sub("%","",$3); print $3}')
echo "coverage of shared/ (statements): ${total}% (floor ${floor}%)"
awk -v t="$total" -v f="$floor" 'BEGIN { exit (t+0 < f+0) ? 1 : 0 }' || { echo "coverage below ${floor}%" >&2; exit 1; }
