#!/usr/bin/env bash
# `make demo`: build what is missing (control plane binaries, the operator, the demo), then
# run the demo. The demo starts and stops its own control plane unless KUBECONFIG is set.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${KUBECONFIG:-} ]]; then
	e2e/controlplane/build.sh
fi
cargo build --locked -p baton-operator --bin baton-operator -p baton-e2e --bin baton-demo
exec target/debug/baton-demo
