# faultline: the user-facing jobs. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin/faultline
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# -s -w: no symbol table or DWARF (105 MB -> 75 MB); panics still print file:line traces
LDFLAGS := -s -w -X github.com/faultline-dev/faultline/cmd/faultline/app/cli.Version=$(VERSION)
SCENARIO ?= kernel-panic-stacking
SEEDS ?=
ARGS ?=

.PHONY: help build scenario test test-short bench golden fuzz-sim fuzz-load regress baselines clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

build: ## build bin/faultline
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/faultline

scenario: build ## replay SCENARIO (default kernel-panic-stacking) in the simulator; SEEDS=N ARGS="..."
	./$(BIN) run $(SCENARIO) $(if $(SEEDS),--seeds $(SEEDS)) $(ARGS)

test: tools ## gofmt, vet, every test (race detector on the seed fan-out, e2e against a local control plane), and the scenario library validated
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race ./scenarios/runner/
	$(GO) build -o $(BIN) ./cmd/faultline && for d in scenarios/*/scenario.yaml; do ./$(BIN) validate $$d || exit 1; done

test-short: ## the fast tests only
	$(GO) test -short ./...

FUZZTIME ?= 60s
fuzz-load: ## fuzz the scenario loader, --set and the simulator's input, FUZZTIME (default 60s) each; new crashers land in scenarios/testdata/fuzz/
	@set -e; for t in FuzzLoad FuzzSet FuzzSimulate; do \
	  $(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./scenarios/; done

bench: build ## performance targets P1-P4 and the engine benchmarks; output kept under bench/ (commit it with performance changes)
	@mkdir -p bench
	./$(BIN) bench | tee bench/targets-$$(date -u +%Y%m%d).txt
	$(GO) test -run='^$$' -bench=. -benchmem -count=5 ./sim/engine/ | tee bench/engine-$$(date -u +%Y%m%d).txt

REGRESS_SEEDS ?= 100
regress: build ## nightly: replay every library scenario at fixed seeds and fail on any regression against results/baselines/
	@set -e; for d in scenarios/*/scenario.yaml; do n=$$(basename $$(dirname $$d)); \
	  test -f results/baselines/$$n.json || { echo "no baseline for $$n: make baselines"; exit 1; }; \
	  ./$(BIN) run $$n --seed 1 --seeds $(REGRESS_SEEDS) --out .cache/regress/$$n --overwrite -q > /dev/null; \
	  ./$(BIN) check --baseline results/baselines/$$n.json .cache/regress/$$n; done

baselines: build ## store new regression baselines after a deliberate model or scenario change (review the diff)
	@mkdir -p results/baselines; set -e; for d in scenarios/*/scenario.yaml; do n=$$(basename $$(dirname $$d)); \
	  ./$(BIN) run $$n --seed 1 --seeds $(REGRESS_SEEDS) --out .cache/regress/$$n --overwrite -q > /dev/null; \
	  cp .cache/regress/$$n/summary.json results/baselines/$$n.json; echo "stored results/baselines/$$n.json"; done

# the packages whose tests use internal/golden: only they define -update
GOLDEN_PKGS = $(shell $(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '$$1 !~ /internal\/golden$$/ && / [^ ]*\/internal\/golden( |$$)/ {print $$1}')

golden: ## regenerate every golden file (testdata/golden/*.trace: each library scenario's event log, the window and variants in its first line) after a deliberate model change; review the diff
	$(GO) test -count=1 -run Golden $(GOLDEN_PKGS) -update

FUZZTIME ?= 5m
fuzz-sim: ## fuzz generated scenarios with the invariant checker on (FUZZTIME, default 5m); one input costs about 10 ms of CPU (the 54-input corpus in make test: 0.6 s); failures land in scenarios/runner/testdata/fuzz/
	$(GO) test -run '^$$' -fuzz '^FuzzScenario$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 30s ./scenarios/runner/

clean: ## remove the binary
	rm -rf bin

.PHONY: fidelity
FIDELITY_REPS ?= 1
FIDELITY_SEEDS ?= 20
fidelity: build tools ## nightly: every library scenario in both worlds on local control planes (compressed plans, one cluster at a time; about 30 min on 2 cores); the matrix in results/fidelity-<time>/fidelity.{json,md,html}
	./$(BIN) fidelity --all --reps $(FIDELITY_REPS) --seeds $(FIDELITY_SEEDS) -q $(ARGS)

.PHONY: tools test-cluster

# tools runs before `go test` in `make test`, so the cold build (about 8 min on 2 cores, cached in
# ~/.cache/faultline/bin afterwards) does not count against go test's per-binary timeout.
tools: ## build and cache the local cluster's binaries from tools/ (etcd, kube-*, kubectl, kwok); ~10 min once, then seconds
	$(GO) run ./cmd/faultline cluster build

test-cluster: tools ## only the end-to-end tests against a real local control plane (clusters/...), verbose
	$(GO) test -count=1 -v ./clusters/...

.PHONY: kind-image e2e-kind

# The kind targets need root (they run faultline's own dockerd; see clusters/kind) and install
# docker.io, debootstrap and iptables with apt-get when missing.
kind-image: ## the offline kind node image (Debian packages + Go modules, nothing pulled); 15-30 min cold on 2 cores, seconds when cached
	$(GO) run ./cmd/faultline cluster build --provider kind

e2e-kind: kind-image ## nightly: a 3-worker kind cluster, readiness gate, the platform image (Ready, /metrics, webhook), kernel-panic placement, CronJob storm, run --kubeconfig on it, teardown leaving nothing; then run --cluster kind (kernel-panic-stacking baseline + anti-affinity, nodes paused; the network path with real traffic: ingress-502 baseline + prestop-45s, deep-readiness baseline + shallow; a SIGKILLed run's cluster removed by cluster gc; cron-deleted-images against a real registry: baseline, platform-resolution, runtime-resolution). TestKindNetPathE2E alone: 20.4 min on a loaded 2-core machine (2026-12-02: ingress part 8.6 min, deep part 10.3 min, SIGKILL check 1.5 min); TestKindRegistryE2E: 31.9 min whole on a loaded 2-core machine (2026-12-03: the first variant 14.6 min with the registry and faultline-echo built cold, then about 9 min each), 26.5 min warm (passed)
	FAULTLINE_E2E_KIND=1 $(GO) test -count=1 -v -timeout 120m -run 'TestKindE2E|TestKindNetPathE2E|TestKindRegistryE2E' ./clusters/kind/

.PHONY: e2e-prometheus
e2e-prometheus: tools ## nightly: a real run of the cron storm's platform variant in miniature (20 CronJobs, 2 min 30 s) on a local control plane, its PromQL objectives and alerts evaluated against a real Prometheus scraping the apiserver and the platform; about 3 min warm
	FAULTLINE_E2E_PROMETHEUS=1 $(GO) test -count=1 -v -timeout 15m -run 'TestRealRunEvaluatesPromQLOnARealPrometheus' ./clusters/realrun/
