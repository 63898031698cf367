#!/usr/bin/env bash
# The project's test command (the README's): every package's tests.
# Slow suites are behind GOLEM_SLOW=1, which CI also runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
go test -count=1 ./...
