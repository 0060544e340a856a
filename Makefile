# firedrill: a disaster-recovery drill harness for sync services.
#
#   make drill    the Sidekick drill: botched SAN migration, restore, verify every user
#   make sidekick the same drill at a million users (profile sidekick)
#   make test     lint, unit and integration tests, then the smoke scenarios
#   make nightly  every scenario (NIGHTLY_REPEAT=2 runs it three times)
#   make bench    the benchmarks, as ratios against baselines run beside them
#   make images   build the container images (no registry needed)
#
# Every target that needs containers builds the images first; an unchanged recipe is
# not rebuilt. Set FIREDRILL_SEED to replay a run.

SHELL := /bin/bash
GO ?= go
# Colour codes only where a person reads a terminal, not in CI logs.
GINKGO := $(GO) tool ginkgo $(if $(CI),--no-color,)
PROFILE ?= small
NIGHTLY_REPEAT ?= 0
# Packages with plain Go tests: everything but the scenario suite, which runs by label.
UNIT_PKGS = $$($(GO) list ./... | grep -v '/scenarios$$')

.PHONY: all deps docker images test lint unit fuzz smoke drill sidekick nightly bench

all: test

# deps installs what the image builds (mmdebstrap) and the live page's browser
# test (chromium) need from Debian's packages when missing: as root it installs
# them, otherwise it says what to install.
DEB_TOOLS = mmdebstrap chromium
deps:
	@missing=""; for t in $(DEB_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make: installing$$missing from Debian's packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make: missing$$missing: run 'sudo apt-get install$$missing' (mmdebstrap builds the images, chromium drives the live page's test)"; exit 1; \
	  fi; \
	fi

# docker fails early, and plainly, when no Docker Engine answers.
docker:
	@docker info >/dev/null 2>&1 || { echo "make: no Docker Engine answers: start it (e.g. 'sudo systemctl start docker') or set DOCKER_HOST"; exit 1; }

images: deps docker
	$(GO) run ./cmd/firedrill-images

test: images lint unit fuzz smoke

# lint runs go vet and staticcheck (pinned in go.mod as a tool); both must be clean.
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -timeout 20m $(UNIT_PKGS)

# fuzz runs each fuzzer briefly beyond its seed corpus (which unit runs): the
# ledger's loader against cuts and flips, the DAV client's multistatus parser,
# canon's canonical form, the snapshot reader. Each is bounded by a count of
# executions, about 10 s of each on this machine, not by a duration: Go 1.26's
# fuzz coordinator can fail a duration-bounded run with "context deadline
# exceeded" and no failing input when its deadline races a busy worker
# (go.dev/issue/75804, fixed in Go 1.27). FUZZTIME=5m (or 2000000x) sets one
# budget for all, for a longer hunt.
FUZZTIME ?=
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(or $(FUZZTIME),400000x) ./harness/ledger
	$(GO) test -run '^$$' -fuzz '^FuzzParseMultistatus$$' -fuzztime $(or $(FUZZTIME),200000x) ./harness/dav
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(or $(FUZZTIME),100000x) ./harness/canon
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(or $(FUZZTIME),40000x) ./harness/snapshot

smoke:
	@if [ -d scenarios ] && ls scenarios/*_test.go >/dev/null 2>&1; then \
	  $(GINKGO) --label-filter=smoke --timeout=20m --grace-period=3m ./scenarios; \
	else echo "make: no scenario suite yet"; fi

drill: images
	$(GO) run ./cmd/firedrill run sidekick-san-migration --profile $(PROFILE)

# sidekick is the drill at the Sidekick service's size: a million users (1% of
# them active, the rest imported in bulk), the botched SAN migration, the
# restore, and the verification of every user. Long: see BENCHMARKS.md.
sidekick: images
	$(GO) run ./cmd/firedrill run sidekick-san-migration --profile sidekick

nightly: images
	$(GINKGO) --label-filter=nightly --repeat=$(NIGHTLY_REPEAT) --timeout=80m --grace-period=3m --junit-report=junit-nightly.xml --output-dir=reports ./scenarios

bench: images
	$(GO) test -run='^$$' -bench=. -benchmem -timeout 30m $(UNIT_PKGS)
