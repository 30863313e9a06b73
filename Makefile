# openclawd. `make run` starts openclawd against the fake gateway;
# `make test` is what CI runs (.ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null || echo dev-$$(git rev-parse --short HEAD 2>/dev/null))
LDFLAGS := -s -w -X github.com/openclawd/openclawd/daemon.Version=$(VERSION)
DEV     := $(CURDIR)/.cache/dev
export GOTOOLCHAIN := local

.PHONY: build test vet bench run run-fake clean pin deb

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
# log flood cost, backup and restore of 1,000 files / 100 MB; HTTP and WebSocket through the embedded Caddy against
# direct and stock Caddy (FrontEnd). Numbers go in closing notes, not assertions.
bench:
	$(GO) test -run '^$$' -bench . -skip FrontEnd -benchtime 1x -timeout 60m ./e2e/ ./internal/logpipe/ ./health/ ./internal/sockets/ ./runtime/fetch/
	$(GO) test -run '^$$' -bench FrontEnd -benchtime 5000x -count 4 -timeout 30m ./e2e/

# A local openclawd running the real gateway, state under .cache/dev; as
# root it runs as nobody (the mirror is copied where nobody can read it). Node
# comes from a mirror built from the npm registry (internal/nodemirror),
# since this kind of machine cannot reach the official Node.js site; on a
# host that can, drop node.mirror and node.sha256 from the config.
run: bin/openclawd
	@mkdir -p $(DEV)/state
	@set -e; m=$$($(GO) run ./internal/cmd/nodemirror); mirror=$${m% *}; \
	user=$$(id -un); if [ "$$(id -u)" = 0 ]; then \
	  user=nobody; chmod 755 $(DEV); \
	  rm -rf $(DEV)/node-mirror; cp -rl $${mirror#file://} $(DEV)/node-mirror 2>/dev/null || cp -r $${mirror#file://} $(DEV)/node-mirror; \
	  chmod -R a+rX $(DEV)/node-mirror; mirror=file://$(DEV)/node-mirror; fi; \
	sed -e 's|@DEV@|$(DEV)|g' -e "s|@MIRROR@|$$mirror|" -e "s|@SHA@|$${m#* }|" -e "s|@USER@|$$user|" \
	    dev/openclawd.dev.yaml > $(DEV)/openclawd.yaml; chmod 644 $(DEV)/openclawd.yaml
	./bin/openclawd run --config $(DEV)/openclawd.yaml

# The same against the fake gateway (internal/fakegateway): no downloads.
run-fake: bin/openclawd bin/fakegateway
	@mkdir -p $(DEV)
	@user=$$(id -un); if [ "$$(id -u)" = 0 ]; then user=nobody; chmod 755 $(DEV); fi; \
	sed -e 's|@DEV@|$(DEV)|g' -e 's|@FAKE@|$(CURDIR)/bin/fakegateway|g' -e "s|@USER@|$$user|" \
	    dev/openclawd.fake.yaml > $(DEV)/openclawd-fake.yaml; chmod 644 $(DEV)/openclawd-fake.yaml
	./bin/openclawd run --config $(DEV)/openclawd-fake.yaml

# Regenerate runtime/pins: make pin OPENCLAW=2026.9.6 NODE=24.21.0 [NPM=11.21.2]
# Node's SHASUMS256.txt comes from OPENCLAWD_NODE_MIRROR (default: the
# official site), or from SHASUMS=FILE where that is unreachable.
pin:
	$(GO) run ./internal/cmd/pin -node $(NODE) -openclaw $(OPENCLAW) $(if $(NPM),-npm $(NPM)) $(if $(SHASUMS),-shasums $(SHASUMS))

# Debian packages: make deb [VERSION=1.2.3] [DEB_ARCHS=amd64] [DEB_DIST=dir]
# -> $(DEB_DIST)/openclawd_<version>_<arch>.deb. A tag v1.2.3-rc1 becomes
# 1.2.3~rc1; anything else 0.0.0~dev<commit time>.<commit>, which sorts
# before every release. Needs the Go module proxy for nfpm, nothing else.
DEB_ARCHS      ?= amd64 arm64
DEB_DIST       ?= $(CURDIR)/dist
DEB_MAINTAINER ?= openclawd maintainers <openclawd@users.noreply.github.com>
NFPM           ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

deb:
	@set -e; v='$(VERSION)'; v=$${v#v}; \
	case "$$v" in [0-9]*) v=$$(printf %s "$$v" | tr - '~') ;; \
	  *) v=0.0.0~dev$$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd).$$(git rev-parse --short HEAD) ;; esac; \
	expr "$$v" : '[0-9][0-9A-Za-z.+~]*$$' >/dev/null || { echo "make deb: $$v is not a Debian version" >&2; exit 2; }; \
	epoch=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)}; \
	mkdir -p '$(DEB_DIST)'; \
	printf 'openclawd (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	  "$$v" "$$(git rev-parse --short HEAD)" '$(DEB_MAINTAINER)' "$$(LC_ALL=C date -u -R -d @$$epoch)" \
	  | gzip -9n >'$(DEB_DIST)/changelog.gz'; \
	for a in $(DEB_ARCHS); do \
	  echo "make deb: openclawd $$v $$a"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath \
	    -ldflags "-s -w -X github.com/openclawd/openclawd/daemon.Version=$$v" -o '$(DEB_DIST)'/$$a/openclawd ./cmd/openclawd; \
	  GOOS= GOARCH= DEB_ARCH=$$a VERSION=$$v DEB_DIST='$(DEB_DIST)' DEB_MAINTAINER='$(DEB_MAINTAINER)' SOURCE_DATE_EPOCH=$$epoch \
	    $(NFPM) package --config nfpm.yaml --packager deb --target '$(DEB_DIST)'/openclawd_$${v}_$$a.deb; \
	done

clean:
	rm -rf bin .cache

FORCE:
