#!/usr/bin/env bash
# End-to-end check of the local control plane: build (cached), start in a fresh state
# dir, talk to it with the built kubectl and helm, prove CRD CEL validation runs, stop,
# and make sure no server process of this run is left.
#
# Usage: e2e/controlplane/smoke.sh
set -euo pipefail

readonly K8S_VERSION=v1.36.3
MODULE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$MODULE_DIR/../.." && pwd)
readonly MODULE_DIR REPO
BIN=${CONTROLPLANE_CACHE:-$REPO/.cache/controlplane}/k8s-$K8S_VERSION/bin

log() { printf '[controlplane smoke] %s\n' "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

"$MODULE_DIR/build.sh"

mkdir -p "$REPO/.cache/run"
STATE=$(mktemp -d "$REPO/.cache/run/smoke.XXXXXX")
WORK=$(mktemp -d)
stopped=false
finish() {
	$stopped || "$MODULE_DIR/down.sh" "$STATE" || true
	rm -rf "$WORK" "$STATE"
}
trap finish EXIT

KUBECONFIG=$("$MODULE_DIR/up.sh" "$STATE")
export KUBECONFIG
kubectl() { "$BIN/kubectl" "$@"; }

version=$(kubectl get --raw /version)
[[ $version == *"\"gitVersion\": \"$K8S_VERSION\""* ]] || die "/version: $version"
log "server /version is $K8S_VERSION"

resources=$(kubectl api-resources)
[[ $resources == *customresourcedefinitions* ]] || die "api-resources lacks CRDs"

kubectl create namespace smoke >/dev/null

cat >"$WORK/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.baton.dev
spec:
  group: smoke.baton.dev
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              min: {type: integer}
              max: {type: integer}
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              message: "min must not exceed max"
EOF
kubectl apply -f "$WORK/crd.yaml" >/dev/null
kubectl wait --for=condition=Established crd/widgets.smoke.baton.dev --timeout=60s >/dev/null

widget() {
	printf 'apiVersion: smoke.baton.dev/v1\nkind: Widget\nmetadata: {name: %s, namespace: smoke}\nspec: {min: %s, max: %s}\n' "$@"
}
widget good 1 2 | kubectl apply -f - >/dev/null
if out=$(widget bad 3 2 | kubectl apply -f - 2>&1); then
	die "a Widget violating the CEL rule was accepted"
fi
[[ $out == *"min must not exceed max"* ]] || die "unexpected rejection: $out"
log "CEL rule rejected the bad object: $out"

"$BIN/helm" list --all-namespaces >/dev/null
log "helm $("$BIN/helm" version --short) reaches the server"

"$MODULE_DIR/down.sh" "$STATE"
stopped=true
# Only this run's processes: their command lines name its state dir.
if left=$(pgrep -af -- "$STATE/"); then
	die "processes left behind: $left"
fi
log "OK"
