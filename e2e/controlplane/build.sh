#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver, kubectl, etcd) plus helm from
# Go modules, with no containers and no release-binary downloads (neither is possible
# on these machines; only the Go module proxy is reachable). See README.md.
#
# Idempotent: the binaries are cached under $REPO/.cache/controlplane/k8s-<version>/bin
# and a second run only checks that they still execute. A build goes to a temporary
# directory that is renamed into place at the end, so an interrupted build never leaves
# a half-filled cache behind.
#
# Usage: e2e/controlplane/build.sh        (no arguments)
# Env:   CONTROLPLANE_CACHE  override the cache root (default $REPO/.cache/controlplane)
set -euo pipefail

# Versions. K8S_VERSION must match the k8s.io/kubernetes requirement (and the v0.x staging
# replaces) in go.mod; etcd comes from the same go.mod (v3.6.8 for 1.36.3).
readonly K8S_VERSION=v1.36.3
# helm v3.21.4: its go.mod says `go 1.26.0` (within the installed Go 1.26.x) and it is
# built on client-go v0.36.x, the same Kubernetes minor as the server (v3.22.0 moved
# to v0.37).
readonly HELM_VERSION=v3.21.4

MODULE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$MODULE_DIR/../.." && pwd)
CACHE_ROOT=${CONTROLPLANE_CACHE:-$REPO/.cache/controlplane}
CACHE_DIR=$CACHE_ROOT/k8s-$K8S_VERSION
BIN_DIR=$CACHE_DIR/bin
readonly MODULE_DIR REPO CACHE_ROOT CACHE_DIR BIN_DIR

log() { printf '[controlplane build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# True when every cached binary exists, runs and reports the expected version. Running
# them (not just testing for the files) catches a truncated or foreign binary; checking
# versions makes a version bump in this script rebuild. Outputs are captured rather
# than piped into `grep -q`, whose early exit would SIGPIPE the writer under pipefail.
cached_ok() {
	local dir=$1 out
	[[ -x $dir/kube-apiserver && -x $dir/kubectl && -x $dir/etcd && -x $dir/helm ]] || return 1
	out=$("$dir/kube-apiserver" --version 2>/dev/null) || return 1
	[[ $out == *"Kubernetes $K8S_VERSION"* ]] || return 1
	out=$("$dir/kubectl" version --client 2>/dev/null) || return 1
	[[ $out == *"Client Version: $K8S_VERSION"* ]] || return 1
	out=$("$dir/etcd" --version 2>/dev/null) || return 1
	[[ $out == *"etcd Version: "* ]] || return 1
	out=$("$dir/helm" version --short 2>/dev/null) || return 1
	[[ $out == "$HELM_VERSION"* ]] || return 1
}

if cached_ok "$BIN_DIR"; then
	echo "control plane binaries cached in $BIN_DIR"
	exit 0
fi

mkdir -p "$CACHE_DIR"
# Serialise concurrent builds (e.g. two test runs started at once): the second waits and
# then finds the cache filled by the first.
exec 9>"$CACHE_DIR/.build.lock"
flock 9
if cached_ok "$BIN_DIR"; then
	echo "control plane binaries cached in $BIN_DIR"
	exit 0
fi

grep -qE "^[[:space:]]*k8s.io/kubernetes $K8S_VERSION( |$)" "$MODULE_DIR/go.mod" || {
	log "go.mod does not require k8s.io/kubernetes $K8S_VERSION; update K8S_VERSION or go.mod"
	exit 1
}

# No cgo (no C toolchain needed, static binaries); never download another Go toolchain;
# keep the build cache in the repo's ignored .cache so it is reused across runs and easy
# to delete. The module cache stays the default GOMODCACHE.
export CGO_ENABLED=0 GOTOOLCHAIN=local
export GOCACHE=$REPO/.cache/go-build
mkdir -p "$GOCACHE"

# Temp dir inside CACHE_DIR so the final rename stays on one filesystem (atomic).
TMP_BIN=$(mktemp -d "$CACHE_DIR/bin.tmp.XXXXXX")
trap 'rm -rf "$TMP_BIN"' EXIT
chmod 755 "$TMP_BIN" # mktemp makes it 0700; the cache is meant to be shared

# Build in a low-priority process: these machines are shared with Rust builds.
gobuild() { nice -n 10 go "$@"; }

start_all=$SECONDS
cd "$MODULE_DIR"

# Fetch modules first (fast when cached) so a download failure is reported as such.
step=$SECONDS
log "downloading modules (GOMODCACHE=$(go env GOMODCACHE))"
go mod download
log "modules ready in $((SECONDS - step))s"

# Version stamping: without it /version reports v0.0.0-master and Helm kubeVersion
# constraints fail. The tag's time (from the module proxy .info) stands in for the
# build date so the binaries are reproducible; the commit is not published by the
# proxy, so gitCommit stays at its default.
k8s_info=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p')
build_date=$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$k8s_info" 2>/dev/null || true)
: "${build_date:=1970-01-01T00:00:00Z}"
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

step=$SECONDS
log "building kube-apiserver and kubectl $K8S_VERSION (cold: 10-25 min on 2 cores)"
gobuild build -trimpath -ldflags "$ldflags" -o "$TMP_BIN/" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
log "kube-apiserver, kubectl built in $((SECONDS - step))s"

step=$SECONDS
# go.etcd.io/etcd/server/v3 is etcd's own main package (server/main.go -> etcdmain.Main),
# at the version k8s.io/kubernetes requires.
log "building etcd $(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
gobuild build -trimpath -ldflags "-s -w" -o "$TMP_BIN/etcd" go.etcd.io/etcd/server/v3
log "etcd built in $((SECONDS - step))s"

step=$SECONDS
# Helm has no replace lines, so `go install pkg@version` works outside this module (run
# from a directory outside it, with no -mod flag from GOFLAGS, which that form rejects).
# Stamped the way Helm's Makefile does it: its version, and the Kubernetes version that
# `helm template`/`helm lint` assume offline, taken from the client-go it is built with
# (the source default is 1.20, which fails charts' kubeVersion constraints).
log "building helm $HELM_VERSION"
(
	cd "$TMP_BIN"
	export GOFLAGS='' GOBIN=$TMP_BIN
	helm_mod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
	helm_k8s_minor=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_mod")
	helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
		helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
	done
	gobuild install -trimpath -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
)
log "helm built in $((SECONDS - step))s"

cached_ok "$TMP_BIN" || {
	log "freshly built binaries failed their smoke test; not caching them"
	exit 1
}

# Swap the finished directory into place. A leftover (broken) bin dir is moved aside
# first because rename(2) cannot replace a non-empty directory.
rm -rf "$BIN_DIR.old"
if [[ -e $BIN_DIR ]]; then mv "$BIN_DIR" "$BIN_DIR.old"; fi
mv -T "$TMP_BIN" "$BIN_DIR"
trap - EXIT
rm -rf "$BIN_DIR.old"

log "total build time $((SECONDS - start_all))s"
"$BIN_DIR/kube-apiserver" --version
"$BIN_DIR/kubectl" version --client
"$BIN_DIR/etcd" --version
"$BIN_DIR/helm" version
echo "control plane binaries built into $BIN_DIR"
