#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes, each staging module pinned to its
# published version) and etcd (go.etcd.io/etcd/server/v3) from their Go
# modules into a cache folder, for the chart's server-side dry-run test.
# Nothing is committed; a second run finds the binaries and builds nothing.
#
#   bash scripts/kube-apiserver.sh        # prints two lines: KUBE_APISERVER=path, ETCD=path
#
# Cache: $GOLEM_CI_CACHE (default ~/.cache/golem-ci). Versions: KUBE_VERSION, ETCD_VERSION.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
cache=${GOLEM_CI_CACHE:-$HOME/.cache/golem-ci}
kube=${KUBE_VERSION:-v1.34.12}
etcd=${ETCD_VERSION:-v3.6.16}
bin=$cache/bin
apiserver=$bin/kube-apiserver-$kube
etcdbin=$bin/etcd-$etcd
mkdir -p "$bin"
# The build modules live outside the repository so that the product's go.mod never sees them.
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

# A binary without the version stamp (an older build of this script) is rebuilt: helm
# checks charts' kubeVersion against what the server reports.
if [ -x "$apiserver" ] && [ "$("$apiserver" --version 2>/dev/null)" != "Kubernetes $kube" ]; then
	rm -f "$apiserver"
fi
if [ ! -x "$apiserver" ]; then
	start=$(date +%s)
	src=$cache/src/kube-apiserver-$kube
	rm -rf "$src" && mkdir -p "$src"
	cd "$src"
	staging=v0.${kube#v1.}
	go mod init golem.invalid/kube-apiserver >&2 2>/dev/null
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
	# ./staging paths, which only work inside its own tree: pin each to its published tag.
	gomod=$(go mod download -json "k8s.io/kubernetes@$kube" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
	[ -f "$gomod" ] || { echo "kube-apiserver.sh: no go.mod for k8s.io/kubernetes@$kube" >&2; exit 1; }
	mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$gomod")
	[ -n "$mods" ] || { echo "kube-apiserver.sh: no staging replaces found in $gomod" >&2; exit 1; }
	{
		echo "require k8s.io/kubernetes $kube"
		echo "replace ("
		for m in $mods; do echo "	$m => $m $staging"; done
		echo ")"
	} >>go.mod
	printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
	echo "kube-apiserver.sh: resolving k8s.io/kubernetes $kube with $(echo "$mods" | wc -l) staging modules at $staging" >&2
	go mod tidy >&2
	echo "kube-apiserver.sh: building kube-apiserver $kube" >&2
	# The version stamps the Kubernetes build sets (hack/lib/version.sh), so /version reports it.
	minor=${kube#v1.}; minor=${minor%%.*}
	v=k8s.io/component-base/version
	ld="-s -w -X $v.gitVersion=$kube -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
	go build -trimpath -ldflags "$ld" -o "$apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	mv "$apiserver.tmp" "$apiserver"
	echo "kube-apiserver.sh: kube-apiserver built in $(($(date +%s) - start))s" >&2
fi

if [ ! -x "$etcdbin" ]; then
	start=$(date +%s)
	src=$cache/src/etcd-$etcd
	rm -rf "$src" && mkdir -p "$src"
	cd "$src"
	go mod init golem.invalid/etcd >&2 2>/dev/null
	echo "require go.etcd.io/etcd/server/v3 $etcd" >>go.mod
	printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
	echo "kube-apiserver.sh: building etcd $etcd" >&2
	go mod tidy >&2
	go build -trimpath -o "$etcdbin.tmp" .
	mv "$etcdbin.tmp" "$etcdbin"
	echo "kube-apiserver.sh: etcd built in $(($(date +%s) - start))s" >&2
fi
echo "KUBE_APISERVER=$apiserver"
echo "ETCD=$etcdbin"
