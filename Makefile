# openclawd. `make run` starts openclawd against the fake gateway;
# `make test` is what CI runs (.ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null || echo dev-$$(git rev-parse --short HEAD 2>/dev/null))
LDFLAGS := -s -w -X github.com/openclawd/openclawd/daemon.Version=$(VERSION)
DEV     := $(CURDIR)/.cache/dev
export GOTOOLCHAIN := local

.PHONY: build test vet bench run run-fake clean pin

build: bin/openclawd

bin/openclawd: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/openclawd

bin/fakegateway: FORCE
	$(GO) build -o $@ ./internal/fakegateway/cmd/fakegateway

vet:
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...

test: vet
	$(GO) test -race -tags systest -count=1 -timeout 60m ./...

# Benchmarks: recovery after kill -9, hang detection, RSS and idle CPU,
# log flood cost. Numbers go in closing notes, not assertions.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./e2e/ ./internal/logpipe/ ./health/ ./internal/sockets/ ./runtime/fetch/

# A local openclawd running the real gateway, state under .cache/dev. Node
# comes from a mirror built from the npm registry (internal/nodemirror),
# since this kind of machine cannot reach the official Node.js site; on a
# host that can, drop node.mirror and node.sha256 from the config.
run: bin/openclawd
	@mkdir -p $(DEV)/state
	@set -e; m=$$($(GO) run ./internal/cmd/nodemirror); \
	user=""; if [ "$$(id -u)" = 0 ]; then user=nobody; chown nobody: $(DEV)/state; chmod 755 $(DEV); fi; \
	sed -e 's|@DEV@|$(DEV)|g' -e "s|@MIRROR@|$${m% *}|" -e "s|@SHA@|$${m#* }|" -e "s|@USER@|$$user|" \
	    dev/openclawd.dev.yaml > $(DEV)/openclawd.yaml
	./bin/openclawd run --config $(DEV)/openclawd.yaml

# The same against the fake gateway (internal/fakegateway): no downloads.
run-fake: bin/openclawd bin/fakegateway
	@mkdir -p $(DEV)
	@sed -e 's|@DEV@|$(DEV)|g' -e 's|@FAKE@|$(CURDIR)/bin/fakegateway|g' dev/openclawd.fake.yaml > $(DEV)/openclawd-fake.yaml
	./bin/openclawd run --config $(DEV)/openclawd-fake.yaml

# Regenerate runtime/pins: make pin OPENCLAW=2026.9.6 NODE=24.21.0 [NPM=11.21.2]
# Node's SHASUMS256.txt comes from OPENCLAWD_NODE_MIRROR (default: the
# official site), or from SHASUMS=FILE where that is unreachable.
pin:
	$(GO) run ./internal/cmd/pin -node $(NODE) -openclaw $(OPENCLAW) $(if $(NPM),-npm $(NPM)) $(if $(SHASUMS),-shasums $(SHASUMS))

clean:
	rm -rf bin .cache

FORCE:
