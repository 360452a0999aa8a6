# Rampart — run `make help` for the targets.
GO        ?= go
FUZZTIME  ?= 5s
PKGS      := ./...

.PHONY: help test vet unit fuzz vuln bench build demo clean openapi-corpus release deb image package-test dashboard-assets waf-crs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

test: vet unit fuzz vuln ## everything CI runs: vet, race tests, fuzz smoke, vulnerability scan

vet: ## gofmt check and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

unit: ## race-enabled unit and integration tests; without the detector, the packages whose socket calls differ under it and the allocation guards it skips
	$(GO) test -race -count=1 $(PKGS)
	$(GO) test -count=1 ./internal/sockio ./internal/peek ./internal/h1/... ./internal/proxy ./internal/server
	$(GO) test -count=1 -run 'Allocations' ./internal/gateway

fuzz: ## run every fuzz target briefly (FUZZTIME each)
	@FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz-smoke

vuln: ## govulncheck against the offline vulnerability database
	@scripts/vulncheck

bench: ## benchmarks with allocation counts
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

# What `rampart version` prints for a checkout build (release builds set the
# same through scripts/release).
CLIPKG    := github.com/rampart-gw/rampart/internal/cli
LDFLAGS   := -X $(CLIPKG).Version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev) \
             -X $(CLIPKG).Commit=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) \
             -X $(CLIPKG).BuildDate=$(shell git log -1 --format=%cI 2>/dev/null || echo unknown)

build: ## build bin/rampart (version, commit and date from git)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/rampart ./cmd/rampart

release: ## static binaries for linux/amd64, linux/arm64, darwin/arm64, SHA256SUMS and an SBOM in dist/
	@GO=$(GO) scripts/release

deb: ## the .deb (amd64) in dist/, built with nfpm from packaging/
	@GO=$(GO) PLATFORMS=linux/amd64 scripts/release
	@scripts/package deb

image: ## the OCI image in dist/ (load tarball and OCI layout), built with go-containerregistry
	@GO=$(GO) PLATFORMS=linux/amd64 scripts/release
	@scripts/package image

package-test: ## packaging tests (.deb install, image, Helm chart and manifests) and the reproducibility check
	@GO=$(GO) scripts/reproducible
	cd packaging && RAMPART_BINARY=$(CURDIR)/dist/repro/rampart $(GO) test -count=1 ./...

demo: ## run the demo
	$(GO) run ./cmd/rampart demo

# The corpus lives beside the project (../shared); a clone elsewhere (CI's
# temporary checkout) finds it at the workplace's shared folder.
CORPUS    ?= $(firstword $(wildcard ../shared/openapi-corpus /work/shared/openapi-corpus) ../shared/openapi-corpus)

openapi-corpus: build ## run the request cases of $(CORPUS) through bin/rampart (skipped when absent)
	@if [ -d "$(CORPUS)" ]; then $(GO) run ./bench/cmd/corpus -rampart bin/rampart -corpus "$(CORPUS)"; \
	  else echo "openapi-corpus: $(CORPUS) is absent; skipped"; fi

# The CRS project's regression tests (v4.25.0), beside the project like the
# corpus; the test finds ../shared/crs-tests or /work/shared/crs-tests itself
# and fails when absent under CI=true or RAMPART_REQUIRE_SERVICES=1.
waf-crs: ## CRS regression tests through the gateway at PL1 and PL2; fails when a family's pass rate drops
	$(GO) test -tags wafcrs -run '^TestCRSRegression$$' -count=1 -timeout 40m ./internal/gateway/ $(WAFCRS_FLAGS)

bench-compare: ## Rampart vs nginx vs bare Go proxy: plain, TLS, HTTP/2, bodies, idle conns (~20 min); writes bench/RESULTS.md
	@TARGETS="$${TARGETS:-all}" bash bench/run

# The dashboard's front end: uPlot from npm at the version pinned in
# web/package-lock.json, copied beside the dashboard's own scripts and styles
# (written in place, unbuilt) in the embedded assets; committed, so building
# needs no node.
DASH_ASSETS := internal/dashboard/assets

dashboard-assets: ## rebuild the dashboard's embedded assets from web/ (needs npm)
	cd web && npm ci --no-audit --no-fund
	mkdir -p $(DASH_ASSETS)/vendor
	cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css web/node_modules/uplot/LICENSE $(DASH_ASSETS)/vendor/

clean:
	rm -rf bin dist
