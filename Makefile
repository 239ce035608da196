# cronbox: build the tools, test them against real servers, benchmark them
# beside their peers, and assemble the image's filesystem.
SHELL := /bin/bash
GO    ?= go
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# tool name -> module directory
TOOLS   := go-cron gof3r etcd-backup ep es-snapshot
dir_ep  := envplate
moddir   = $(or $(dir_$(1)),$(1))
LDFLAGS  = -s -w -X cronbox/$(call moddir,$(1))/cli.Version=$(VERSION)

.PHONY: all build deps test fuzz lint bench rootfs image demo reliability clean $(TOOLS:%=bin/%)
all: build

build: $(TOOLS:%=bin/%)

# grpcnotrace: grpc's debug trace pages pull in html/template, which makes the
# linker keep every exported method (bin/etcd-backup: 20.8 MB -> 15.2 MB).
BUILDTAGS ?= grpcnotrace
# Inlining off outside the standard library, compression and crypto, as
# rootfs/assemble builds the image (why there).
GCFLAGS ?= all=-l std= github.com/klauspost/...= golang.org/x/crypto/...=
$(TOOLS:%=bin/%): bin/%:
	$(GO) build -trimpath -tags '$(BUILDTAGS)' $(foreach f,$(GCFLAGS),-gcflags='$(f)') -ldflags '$(call LDFLAGS,$*)' -o $@ ./$(call moddir,$*)

# Everything the tests need that a fresh machine lacks (apt, go install, Maven).
deps:
	.ci/deps

test: deps build
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 45m cronbox/...
	$(MAKE) --no-print-directory fuzz

# Bounded fuzzing of ep's template parser, and of it against a8m/envsubst,
# then of go-cron's schedule parser and status handler and es-snapshot's
# decoders (targets and corpora in reliability/). The seed corpora (each
# target's testdata/fuzz) also run in every `go test`.
# The budgets are counts of executions, not durations: with a duration, Go
# 1.26's fuzz coordinator can fail a target that found nothing with a bare
# "context deadline exceeded" as -fuzztime ends, when the machine is loaded
# (it compares the deadline's error with the workers' context before that
# context is cancelled: golang/go#75804, fixed in Go 1.27). A count has no
# deadline to race. Each is about 10-15 s of a 2-core machine doing nothing
# else (measured CPU time per execution); a loaded one takes longer.
# FUZZTIME=30s (or =Nx) replaces them all.
# Minimising a new interesting input runs the target O(n^2) times; unbounded
# (Go's default: 60 s each) it held FuzzAgainstEnvsubst at 0 execs/s for most
# of its 15 s, so each minimisation gets at most FUZZMINIMIZE runs.
FUZZMINIMIZE ?= 1000x
FUZZ_TEMPLATE ?= 1000000x
FUZZ_ENVSUBST ?= 400000x
FUZZ_SCHEDULE ?= 40000x
FUZZ_STATUS ?= 20000x
FUZZ_ESDECODE ?= 40000x
fuzz:
	cd envplate && $(GO) test -run='^$$' -fuzz='^FuzzTemplate$$' -fuzztime=$(or $(FUZZTIME),$(FUZZ_TEMPLATE)) -fuzzminimizetime=$(FUZZMINIMIZE) ./subst/
	cd envplate && $(GO) test -run='^$$' -fuzz='^FuzzAgainstEnvsubst$$' -fuzztime=$(or $(FUZZTIME),$(FUZZ_ENVSUBST)) -fuzzminimizetime=$(FUZZMINIMIZE) ./subst/
	cd reliability && $(GO) test -run='^$$' -fuzz='^FuzzSchedule$$' -fuzztime=$(or $(FUZZTIME),$(FUZZ_SCHEDULE)) -fuzzminimizetime=$(FUZZMINIMIZE) .
	cd reliability && $(GO) test -run='^$$' -fuzz='^FuzzStatusHandler$$' -fuzztime=$(or $(FUZZTIME),$(FUZZ_STATUS)) -fuzzminimizetime=$(FUZZMINIMIZE) .
	cd reliability && $(GO) test -run='^$$' -fuzz='^FuzzESDecode$$' -fuzztime=$(or $(FUZZTIME),$(FUZZ_ESDECODE)) -fuzzminimizetime=$(FUZZMINIMIZE) .

# The reliability suite in full (faults, bad input, secrets canary, OpenSearch
# restart, the 10-minute soak, status under load) and its summary table, also
# left in build/reliability.txt. `make test` runs the same tests with a 20 s
# soak and 5 s load runs.
reliability: deps
	@mkdir -p build && rm -f build/reliability.txt
	@status=0; RELIABILITY_FULL=1 RELIABILITY_SUMMARY=$(CURDIR)/build/reliability.txt \
		$(GO) test -count=1 -timeout 40m ./reliability/... > build/reliability.log 2>&1 || status=$$?; \
	grep -E '^(--- FAIL|FAIL|ok|panic)' build/reliability.log; \
	cat build/reliability.txt 2>/dev/null || tail -50 build/reliability.log; \
	exit $$status

lint:
	@if git grep -nE '^(<<<<<<<|>>>>>>>)( |$$)' -- . ':!*.md'; then echo "lint: merge conflict markers"; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet cronbox/...
	@if ls scripts/* >/dev/null 2>&1; then shellcheck --shell=sh scripts/*; fi

bench: build
	@for b in bench/*.sh; do [ -f "$$b" ] || continue; echo "== $$b"; bash "$$b" || exit 1; done

# The image's filesystem in build/rootfs: busybox, one multicall binary with a
# symlink per tool, the scripts, a CA bundle (TOOLS=separate: one binary each).
rootfs:
	VERSION=$(VERSION) rootfs/assemble build/rootfs

# The image, built by a real engine: docker where its daemon answers, else
# podman (Debian's; `.ci/deps` installs it), else fail. PODMAN may carry
# global flags (e.g. --storage-driver=vfs where overlay does not work).
IMAGE  ?= cronbox:$(VERSION)
PODMAN ?= podman
image: rootfs
	@if docker info >/dev/null 2>&1; then \
		echo "image: docker build -t $(IMAGE)"; \
		docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	elif command -v $(firstword $(PODMAN)) >/dev/null 2>&1; then \
		echo "image: no Docker engine answers; $(PODMAN) build -t $(IMAGE)"; \
		$(PODMAN) build --format docker --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	else \
		echo "image: no container engine: docker info failed and podman is not installed (.ci/deps demo installs it)" >&2; \
		exit 1; \
	fi

# The main job on local defaults: real etcd + versitygw on loopback, the image
# run through the engine as users run it (go-cron as PID 1), an etcd backup
# every 10 s; Ctrl-C cleans up. Installs only what the demo runs.
demo:
	.ci/deps demo
	$(MAKE) --no-print-directory image IMAGE=cronbox:demo
	IMAGE=cronbox:demo PODMAN='$(PODMAN)' deploy/demo.sh

clean:
	rm -rf bin build
