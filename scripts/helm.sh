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
	# The stamps helm's Makefile sets: its version, and the Kubernetes version it assumes
	# without a cluster (helm template, lint), from the client-go it is built with.
	gomod=$(GOFLAGS= go mod download -json "helm.sh/helm/$major@$ver" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
	cg=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod" | head -1)
	[ -n "$cg" ] || { echo "helm.sh: no k8s.io/client-go version in $gomod" >&2; exit 1; }
	pkg=helm.sh/helm/$major
	ld="-s -w -X $pkg/internal/version.version=$ver"
	for p in pkg/lint/rules pkg/chartutil internal/chartutil pkg/chart/common; do
		ld="$ld -X $pkg/$p.k8sVersionMajor=1 -X $pkg/$p.k8sVersionMinor=$cg"
	done
	GOWORK=off GOFLAGS= CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "$ld" "$pkg/cmd/helm@$ver" >&2
	mkdir -p "$cache/bin"
	mv "$tmp/helm" "$out"
	echo "helm.sh: helm $ver built in $(($(date +%s) - start))s" >&2
fi
echo "$out"
