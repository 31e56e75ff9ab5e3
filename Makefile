# plumb — build, test, lint, bench. `make test` is what CI runs (as root).
GO      ?= go
BIN     := bin/plumb
PKGS    := ./...
GOFLAGS ?=

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: build test test-unit test-privileged lint bench clean demo demo-clean images provision

build: $(BIN) bin/plumb-cluster

$(BIN): FORCE
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -trimpath -o $(BIN) ./cmd/plumb

# The cluster agent: a binary of its own, beside plumb, so that plumb never
# links the etcd client.
bin/plumb-cluster: FORCE
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -trimpath -o $@ ./cmd/plumb-cluster

FORCE:

# Everything CI runs: unit tests and, as root, the privileged kernel and
# Docker end-to-end tests (one package at a time: they share the host's
# firewall and dockerd). It provisions first, so that it works alone on a
# fresh host: lab/provision.sh is quick when everything is there already.
test: provision build
	$(GO) test -count=1 -p 1 -timeout 60m $(PKGS)

# Pure logic only: no root, no kernel, no Docker.
test-unit:
	$(GO) test -count=1 -skip '^TestPrivileged' $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# BENCH_QUICK=1 make bench: a reduced run (under 5 minutes). BENCH_ARGS: see bench/doc.go.
bench: build
	$(GO) run ./bench $(BENCH_ARGS)

clean:
	rm -rf bin

# What the tests and the lab need on this host (packages, Go, a running
# dockerd); idempotent. As root.
provision:
	bash lab/provision.sh

# The seed scenario on this machine, as root: provisions what is missing,
# builds plumb and the lab images, runs three sinatra containers and nginx
# in plumb sandboxes, publishes nginx on port 80 (or the next free one) and
# curls it. Safe to run twice. DEMO_PORT=8080 starts the search elsewhere.
demo:
	bash lab/demo.sh

# Removes everything `make demo` made: containers, sandboxes, the network,
# the images and lab/build-images' download cache.
demo-clean:
	bash lab/demo.sh clean

# The lab's images (plumb-lab/sinatra, plumb-lab/nginx), built offline.
images:
	lab/build-images
