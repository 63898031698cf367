#!/usr/bin/env bash
# Tests of deploy/ (its own Go module): the Helm chart and the OCI image.
#
# Builds what they need into a cache (~/.cache/golem-ci, or $GOLEM_CI_CACHE) the first
# time: helm (v3 and v4), kube-apiserver and etcd from their Go modules; installs podman and runc from
# Debian when missing. Then runs every deploy test, slow ones included (GOLEM_SLOW=1):
# chart rendering and strict decoding, server-side dry runs and helm install/upgrade
# against a real kube-apiserver, reproducible image builds, and the image run with podman.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
t0=$(date +%s)
step() { echo "deploy-test: $1 ($(($(date +%s) - t0))s)"; }

GOLEM_HELM=$(bash scripts/helm.sh)
helm4=$(HELM_VERSION=v4.3.2 bash scripts/helm.sh)
step "helm: $GOLEM_HELM and $helm4"
eval "$(bash scripts/kube-apiserver.sh | sed 's/^/GOLEM_/')"
step "kube-apiserver: $GOLEM_KUBE_APISERVER, etcd: $GOLEM_ETCD"
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
	echo "deploy-test: installing podman and runc from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq podman runc >/dev/null
	step "podman installed"
fi
export GOLEM_HELM GOLEM_KUBE_APISERVER GOLEM_ETCD GOLEM_SLOW=1

cd deploy
test -z "$(gofmt -l .)" || { gofmt -l .; echo "deploy-test: gofmt needed"; exit 1; }
go vet ./...
go test -count=1 -timeout 20m ./...
step "tests with helm v3"
# The chart must work with both helm majors users have: the chart tests again with helm v4.
GOLEM_HELM=$helm4 go test -count=1 -timeout 10m ./helm/
step "done (chart tests with helm v4 too)"
