#!/usr/bin/env bash
# The web UI's browser tests: real Chromium (Debian's package, installed when missing) driven by chromedp
# through the seed's whole flow, on SQLite and on PostgreSQL with two servers behind a round-robin proxy.
# Uses $GOLEM_TEST_DATABASE_URL when set (as .ci/run sets it), else starts a throwaway PostgreSQL.
# Screenshots of every step go to $GOLEM_E2E_ARTIFACTS (default: a temp dir; the path is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
# A small CJK font so the Chinese screenshots show characters rather than boxes (optional).
if ! fc-list 2>/dev/null | grep -qi -e wqy -e cjk; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || true
fi
echo "== $(chromium --version 2>/dev/null || /usr/bin/chromium --version)"

if [ -z "${GOLEM_TEST_DATABASE_URL:-}" ]; then
  pgdir=$(mktemp -d)
  trap 'bash scripts/postgres.sh stop "$pgdir"' EXIT
  GOLEM_TEST_DATABASE_URL=$(bash scripts/postgres.sh start "$pgdir")
  export GOLEM_TEST_DATABASE_URL
fi
export GOLEM_REQUIRE_POSTGRES=1
export GOLEM_E2E_ARTIFACTS="${GOLEM_E2E_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/golem-e2e-artifacts-XXXXXX")}"

echo "== browser tests (screenshots in $GOLEM_E2E_ARTIFACTS)"
go test -tags browser -count=1 -timeout 15m -v ./internal/webui/e2e/ 2>&1 | grep -v 'browser_test.go:[0-9]*: screenshot '
echo "screenshots: $GOLEM_E2E_ARTIFACTS"
