SHELL := /bin/bash
GO ?= go
PKGS := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the whole system locally (throwaway PostgreSQL, in-process Pub/Sub, all functions on :8080)
	@scripts/ensure-postgres.sh
	$(GO) run ./cmd/ledgerline dev

.PHONY: test
test: ## Vet, format check and every test against real PostgreSQL, with coverage of shared/
	@scripts/ensure-postgres.sh
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -p 2 -timeout 20m -coverpkg=./shared/... -coverprofile=coverage.out $(PKGS)
	@scripts/coverage.sh coverage.out

.PHONY: race
race: ## Tests with the race detector
	@scripts/ensure-postgres.sh
	$(GO) test -count=1 -race -p 2 -timeout 30m $(PKGS)

.PHONY: bench
bench: ## Load, capacity and cold-start benchmark, functions run as deployed (~15 min; BENCHFLAGS=--scale 0.1 for a quick one)
	@scripts/ensure-postgres.sh
	$(GO) run ./cmd/ledgerline bench $(BENCHFLAGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s)
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' shared | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | cut -d' ' -f2); do \
	    echo "== $$t $$f"; $(GO) test ./$$t -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} || exit 1; \
	  done; \
	done

.PHONY: e2e
e2e: ## Start the dev server and check /docs renders every operation in headless Chromium
	@scripts/ensure-postgres.sh
	scripts/e2e/run.sh

.PHONY: verify
verify: ## go.mod tidy, formatting, vet, manifest/contract agreement
	$(GO) mod tidy -diff
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run 'TestManifest' ./...

.PHONY: tf-check
tf-check: ## Terraform fmt + validate offline, against the google provider built from the Go module proxy (cached)
	scripts/tf-check.sh

.PHONY: dist
dist: ## Build the source zip Cloud Functions deploys (dist/ledgerline-<hash>.zip)
	@mkdir -p dist
	@rm -f dist/source.zip
	git ls-files go.mod go.sum ledgerline.go functions shared migrations | grep -v '_test.go$$' | zip -q -X dist/source.zip -@
	@h=$$(sha256sum dist/source.zip | cut -c1-12); mv dist/source.zip dist/ledgerline-$$h.zip; echo dist/ledgerline-$$h.zip
