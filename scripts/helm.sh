#!/usr/bin/env bash
# Builds helm from its Go module (through the Go module proxy, like every other
# dependency) into a cache folder and prints its path. A second run builds nothing.
#
#   helm=$(bash scripts/helm.sh)           # helm v3 (HELM_VERSION, default below)
#   helm4=$(HELM_VERSION=v4.3.2 bash scripts/helm.sh)
#
# Cache: $GOLEM_CI_CACHE (default ~/.cache/golem-ci).
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
cache=${GOLEM_CI_CACHE:-$HOME/.cache/golem-ci}
ver=${HELM_VERSION:-v3.22.0}
major=${ver%%.*}
out=$cache/bin/helm-$ver
if [ ! -x "$out" ]; then
	start=$(date +%s)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "helm.sh: building helm $ver" >&2
	GOWORK=off GOFLAGS= CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath "helm.sh/helm/$major/cmd/helm@$ver" >&2
	mkdir -p "$cache/bin"
	mv "$tmp/helm" "$out"
	echo "helm.sh: helm $ver built in $(($(date +%s) - start))s" >&2
fi
echo "$out"
