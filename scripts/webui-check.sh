#!/usr/bin/env bash
# Checks the web front end (web/): type check, unit tests, and that the committed build in
# internal/webui/dist is exactly what the sources build to (so `golem serve` on a machine without Node
# serves the current UI). Also prints the initial download's gzipped size and fails above the budget.
#
# After changing web/: cd web && npm ci && npm run build, then commit internal/webui/dist.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
budget=$((300 * 1024))

command -v npm >/dev/null || { echo "webui-check: npm not found (Node 20.19+ is needed to check the UI)"; exit 1; }
echo "== node $(node --version), npm $(npm --version)"

cd web
npm ci --no-audit --no-fund --loglevel=error
echo "== svelte-check"
npm run --silent check
echo "== unit tests"
npm test --silent

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== build into $tmp/dist"
npx vite build --outDir "$tmp/dist" --emptyOutDir --logLevel warn
cd "$root"
if ! diff -r "$tmp/dist" internal/webui/dist; then
  echo "webui-check: internal/webui/dist does not match web/ — run: cd web && npm ci && npm run build, and commit internal/webui/dist"
  exit 1
fi
echo "committed build matches the sources"

# The initial download: index.html and everything it references (script, stylesheet, icon, preloads).
total=$(gzip -9c internal/webui/dist/index.html | wc -c)
for f in $(grep -oE '(src|href)="/[^"]+"' internal/webui/dist/index.html | sed -E 's/^(src|href)="\///; s/"$//'); do
  n=$(gzip -9c "internal/webui/dist/$f" | wc -c)
  printf '   %-40s %7d bytes gzipped\n' "$f" "$n"
  total=$((total + n))
done
echo "initial download: $total bytes gzipped (budget $budget)"
if [ "$total" -ge "$budget" ]; then
  echo "webui-check: the initial download is over the 300 KB budget"
  exit 1
fi
echo "webui-check OK"
