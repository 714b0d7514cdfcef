# baton: the entry points. `make demo` and `make test` are the quick start; everything they
# need is built here, into ignored folders (target/, .cache/), once per machine.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo

.PHONY: all demo test lint fmt-check clippy unit e2e controlplane crds docs bench chaos clean help

all: test

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

demo: ## the whole thing on a local control plane and a simulated fleet
	./hack/demo.sh

test: lint unit e2e ## everything CI runs: format, lints, unit and end-to-end tests

lint: fmt-check clippy ## formatting and clippy -D warnings

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: ## unit and integration tests that need no control plane
	$(CARGO) test --workspace --locked --exclude baton-e2e

e2e: controlplane ## end-to-end tests against a real kube-apiserver (KUBECONFIG or a local one)
	$(CARGO) build -p baton-operator --bin baton-operator --locked
	$(CARGO) test -p baton-e2e --locked -- --test-threads=4

controlplane: ## build kube-apiserver, etcd, kubectl and helm from Go modules (cached)
	./e2e/controlplane/build.sh

crds: ## regenerate the committed CRD YAML from the Rust types
	$(CARGO) run -q -p baton-crds --bin crdgen

clean:
	$(CARGO) clean
