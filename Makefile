# fipsgate — see README.md. Every target brings up what it needs (dev-up is
# idempotent), so each works from a fresh Debian machine as root.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
DEV_ENV = eval "$$(hack/dev-up.sh)"

.PHONY: help demo test unit lint e2e dev-up dev-down frontend-image base-images bench

help:
	@echo "make demo            build the examples through fipsgate with docker buildx build"
	@echo "make test            every test: unit tests and lint, then end-to-end against a real buildkitd"
	@echo "make lint            lint the GitHub Actions workflows (actionlint, shellcheck)"
	@echo "make dev-up          start buildkitd and a registry on loopback (eval \"\$$(make -s dev-up)\")"
	@echo "make dev-down        stop them"
	@echo "make frontend-image  build the frontend image and push it to the dev registry"
	@echo "make base-images     build and push the base images the examples and tests use"
	@echo "make bench           fipsgate vs the upstream Dockerfile frontend: table, and _output/bench.json"

dev-up:
	@hack/dev-up.sh

dev-down:
	@hack/dev-down.sh

base-images:
	@$(DEV_ENV); hack/base-images.sh

frontend-image:
	@$(DEV_ENV); hack/frontend-image.sh

demo:
	@$(DEV_ENV); hack/base-images.sh; hack/frontend-image.sh >/dev/null; hack/demo.sh

lint:
	@hack/lint.sh

unit: lint
	@hack/packages.sh
	go vet ./...
	go test -count=1 ./...

e2e:
	@$(DEV_ENV); hack/base-images.sh; \
	go test -tags e2e -count=1 -run Oracle ./internal/opensslconf/; \
	export FIPSGATE_FRONTEND_IMAGE=$$(hack/frontend-image.sh | tail -n 1); \
	export FIPSGATE_SBOM_SCANNER=$$(hack/sbom-scanner.sh | tail -n 1); \
	go test -tags e2e -count=1 -timeout 40m -v ./e2e/

test: unit e2e

# BENCH_FLAGS: e.g. -runs 9, or -only helloserver for one scenario.
bench:
	@$(DEV_ENV); hack/base-images.sh; \
	export FIPSGATE_FRONTEND_IMAGE=$$(hack/frontend-image.sh | tail -n 1); \
	go run ./hack/bench $(BENCH_FLAGS)
