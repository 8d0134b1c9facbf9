# gocf — Pacemaker OCF resource agents in Go.
# make build | install | test | check | bench | docs | deps | clean

GO       ?= go
PREFIX   ?= /usr
DESTDIR  ?=
AGENTS   := vip fsmount asterisk drbd
OCFDIR   := $(PREFIX)/lib/ocf/resource.d/gocf
# Programs that are no OCF agents: DRBD's fence-peer handler.
TOOLS    := drbd-fence
LIBDIR   := $(PREFIX)/lib/gocf
# The release tag (v1.2.3 -> 1.2.3), else a pre-release (see the script).
VERSION  ?= $(shell packaging/version.sh)
NFPM     := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
LDFLAGS  := -s -w -X github.com/gocf/gocf/pkg/ocf.BuildVersion=$(VERSION)
# urfave/cli without its man/markdown generators: smaller, faster to start.
TAGS     := urfave_cli_no_docs
export CGO_ENABLED := 0

# Debian packages the tests need: ocf-tester and the DTD (resource-agents),
# xmllint, Pacemaker's CLI, ip(8) to build test networks, ping for the demo,
# filesystems for fsmount, debootstrap and rpm for the package tests, qemu
# and debootstrap for the test bed's image and VMs, sipsak for its client,
# sip-tester (SIPp) for the real calls of tests/sipp.
APT_PKGS := resource-agents libxml2-utils pacemaker-cli-utils iproute2 iputils-ping e2fsprogs xfsprogs util-linux \
            debootstrap rpm man-db qemu-system-x86 qemu-utils sipsak sip-tester
# The shell agents make bench compares against need these too.
BENCH_PKGS := kmod psmisc
# The OCF 1.1 schema pcs validates with, taken from Debian's pcs package.
OCF11_RNG := .cache/pcs/usr/share/pcs/data/ocf-1.1.rng

.PHONY: all build install test check bench docs apt deps lint clean demo man package fuzz

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./agents/,$(AGENTS) $(TOOLS))

install: build
	install -d $(DESTDIR)$(OCFDIR)
	install -m 0755 $(addprefix bin/,$(AGENTS)) $(DESTDIR)$(OCFDIR)/
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0755 $(addprefix bin/,$(TOOLS)) $(DESTDIR)$(LIBDIR)/

test:
	$(GO) test ./pkg/...

apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps: apt
	@if [ ! -f $(OCF11_RNG) ]; then \
		tmp=$$(mktemp -d) && chmod 755 $$tmp && (cd $$tmp && apt-get -o APT::Sandbox::User=root download pcs >/dev/null) && \
		mkdir -p .cache/pcs && dpkg-deb -x $$tmp/pcs_*.deb .cache/pcs && rm -rf $$tmp; fi
	$(GO) mod download

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Every fuzz target of the packages for FUZZTIME each, one at a time (the
# fuzzer takes one target per run); seeds come from testdata/fuzz and f.Add.
# A count, not a duration: Go 1.26's coordinator can report its own
# -fuzztime deadline as a failure ("context deadline exceeded", no input
# written; golang/go#75804, fixed in 1.27), which a count never reaches.
FUZZTIME ?= 100000x
fuzz:
	@set -e; for pkg in $$($(GO) list ./pkg/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Everything: lint, unit tests, meta-data validation, ocf-tester, the
# scenario tests in namespaces, the packages, and the cluster tests in the
# test bed (namespace nodes and qemu VMs; one package at a time, as they
# share the bed), after every fuzz target for a bounded time. As root;
# nothing may skip.
check: deps build lint package fuzz
	GOCF_CHECK=1 GOCF_TESTBED=1 GOCF_TESTBED_VM=1 GOCF_TESTBED_DRBD9=1 GOCF_AGENTS=$(CURDIR)/bin \
	GOCF_OCF11_RNG=$(CURDIR)/$(OCF11_RNG) GOCF_PACKAGES=$(CURDIR)/dist \
	$(GO) test -p 1 -count=1 -timeout 70m ./...

# The floor of the start-up part: a no-op Go binary built as the agents are
# (kept out of bin/, which is what gets installed and copied into the bed).
bench: deps build
	$(MAKE) --no-print-directory APT_PKGS="$(BENCH_PKGS)" apt
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o .cache/bench/noop ./tests/bench/noop
	$(GO) run ./tests/bench -runs 25

docs:
	$(GO) test ./tests -run TestReadmeParameters -update

# Manual pages from the agents' declarations, dated by the last commit so
# that a package build is reproducible.
man:
	@rm -rf dist/man
	$(GO) run ./packaging/manpages -out dist/man -version $(VERSION) -date $$(git log -1 --format=%cs 2>/dev/null || date +%F)
	gzip -n -9 dist/man/*.7 dist/man/*.8

package: build man
	@mkdir -p dist && rm -f dist/*.deb dist/*.rpm
	GOCF_VERSION=$(VERSION) $(GO) run $(NFPM) package -f packaging/nfpm.yaml -p deb -t dist/
	GOCF_VERSION=$(VERSION) $(GO) run $(NFPM) package -f packaging/nfpm.yaml -p rpm -t dist/
	@ls -l dist/*.deb dist/*.rpm

clean:
	rm -rf bin dist .cache

# The sandbox cluster running the gocf PBX (namespace nodes; DRBD=1: two
# qemu VMs with real DRBD), a power-off of the active node and the timeline.
demo: deps build
	$(GO) run ./tests/demo -bin $(CURDIR)/bin -examples $(CURDIR)/crm-examples $(if $(DRBD),-drbd)
