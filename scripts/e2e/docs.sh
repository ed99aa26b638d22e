#!/usr/bin/env bash
# End-to-end check of the API reference page: loads <base-url>/docs in
# headless Chromium, lets Swagger UI render the contract it fetches from
# <base-url>/v1/openapi.json, and fails unless every operation of that
# contract shows up in the rendered page. Also saves a screenshot, so a
# person can see what a browser saw.
#
# Usage: scripts/e2e/docs.sh <base-url>        e.g. http://127.0.0.1:8080
#
# Environment:
#   E2E_OUT         where docs.png, docs.dom.html and chromium.log go (default /tmp)
#   CHROMIUM        the browser binary (default /usr/bin/chromium)
#   E2E_TIMEOUT     seconds one browser run may take (default 120)
set -euo pipefail

usage() {
	echo "usage: $0 <base-url>   (e.g. http://127.0.0.1:8080)" >&2
	exit 2
}
[[ $# -eq 1 && -n $1 ]] || usage
base=${1%/}
out=${E2E_OUT:-/tmp}
chromium=${CHROMIUM:-/usr/bin/chromium}
budget_s=${E2E_TIMEOUT:-120}
mkdir -p "$out"

fail() {
	echo "docs e2e: FAIL: $*" >&2
	exit 1
}

if [[ ! -x $chromium ]]; then
	if [[ $(id -u) -eq 0 ]]; then
		echo "docs e2e: $chromium is missing; installing Debian's chromium package" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
		[[ -x $chromium ]] || fail "installed chromium, but $chromium is still missing"
	else
		fail "$chromium is missing; install it as root with: apt-get update && apt-get install -y chromium"
	fi
fi
command -v curl >/dev/null || fail "curl is required"
command -v python3 >/dev/null || fail "python3 is required"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The expected operations come from the contract the server serves, so the
# check follows the contract without being edited when operations are added.
curl -fsS --max-time 30 -o "$work/openapi.json" "$base/v1/openapi.json" ||
	fail "could not fetch $base/v1/openapi.json"
python3 - "$work/openapi.json" >"$work/operations.tsv" <<'PY' || fail "could not read the operations of $base/v1/openapi.json"
import json, sys

doc = json.load(open(sys.argv[1]))
methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
for path, item in doc.get("paths", {}).items():
    for method in methods:
        op = item.get(method)
        if op is not None:
            print(f"{method.upper()}\t{path}\t{op.get('operationId', '')}")
PY
[[ -s $work/operations.tsv ]] || fail "$base/v1/openapi.json lists no operations"

# Each run gets a profile of its own: a shared or stale profile can hold
# locks or cached state that make a run hang or pass by accident.
run_chromium() {
	local profile
	profile=$(mktemp -d "$work/profile.XXXXXX")
	timeout "$budget_s" "$chromium" \
		--headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage \
		--user-data-dir="$profile" \
		--virtual-time-budget=15000 \
		"$@" 2>>"$out/chromium.log"
}
: >"$out/chromium.log"

# Console logging is on for this run so that the page's script errors and
# Content-Security-Policy violations, which leave no trace in the DOM, can
# be caught below.
run_chromium --enable-logging=stderr --log-level=0 --dump-dom "$base/docs" >"$out/docs.dom.html" ||
	fail "chromium could not load $base/docs (see $out/chromium.log)"
if grep -E 'CONSOLE.*(Content Security Policy|Refused to|Uncaught)' "$out/chromium.log" >"$work/console-errors.log"; then
	cat "$work/console-errors.log" >&2
	fail "the page logged the errors above (full log: $out/chromium.log)"
fi

run_chromium --screenshot="$out/docs.png" --window-size=1280,2000 "$base/docs" >/dev/null ||
	fail "chromium could not take a screenshot of $base/docs (see $out/chromium.log)"
[[ -s $out/docs.png ]] || fail "no screenshot was written to $out/docs.png"

# Swagger UI renders each operation as a block whose id ends in its
# operationId, with the method in .opblock-summary-method and the path in the
# data-path attribute of .opblock-summary-path (the visible text breaks the
# path with zero-width spaces, so the attribute is the reliable copy).
python3 - "$work/operations.tsv" "$out/docs.dom.html" <<'PY'
import html, re, sys
from html.parser import HTMLParser

ops = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
dom = open(sys.argv[2], encoding="utf-8").read()


class Blocks(HTMLParser):
    """Collects (method, path) of every rendered operation block."""

    def __init__(self):
        super().__init__()
        self.rendered = set()
        self.ids = set()
        self._method = None
        self._in_method = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "opblock" in classes and a.get("id"):
            self.ids.add(a["id"])
        if "opblock-summary-method" in classes:
            self._in_method = True
            self._method = ""
        if "opblock-summary-path" in classes and a.get("data-path") and self._method:
            self.rendered.add((self._method.strip().upper(), a["data-path"]))

    def handle_data(self, data):
        if self._in_method:
            self._method += data

    def handle_endtag(self, tag):
        if self._in_method:
            self._in_method = False


p = Blocks()
p.feed(dom)

if not p.rendered:
    if "swagger-ui" not in dom:
        sys.exit("docs e2e: FAIL: Swagger UI did not start: the page has no swagger-ui element")
    sys.exit("docs e2e: FAIL: Swagger UI rendered no operations (did /v1/openapi.json load?)")

missing = []
for method, path, op_id in ops:
    found = (method, path) in p.rendered
    if op_id and not any(i.endswith("-" + op_id) for i in p.ids):
        found = False
    if not found:
        missing.append(f"{op_id or '(no operationId)'} {method} {path}")

if missing:
    print("docs e2e: FAIL: operations of the contract missing from the rendered page:", file=sys.stderr)
    for m in missing:
        print("  " + m, file=sys.stderr)
    sys.exit(1)

for method, path, op_id in ops:
    print(f"docs e2e: rendered {op_id} {method} {path}")
PY

echo "docs e2e: ok: $(wc -l <"$work/operations.tsv") operations rendered; screenshot at $out/docs.png"
