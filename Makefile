# kedge — see README.md. Targets: up, test, build, images, unit, e2e.
SHELL := /bin/bash
export CGO_ENABLED := 0
DATA_DIR ?= /var/lib/kedge
GOFILES := $(shell find cmd internal -name '*.go' 2>/dev/null) go.mod go.sum

.PHONY: all build deps tools up test unit e2e vet clean

all: build

build: bin/kedge

bin/kedge: $(GOFILES)
	go build -trimpath -ldflags "-s -w" -o bin/kedge ./cmd/kedge

deps:
	@hack/install-deps.sh

# Real clients the e2e tests drive besides kubectl, built from the Go module proxy.
HELM_VERSION := v3.22.0
tools: build/tools/helm-$(HELM_VERSION)

build/tools/helm-$(HELM_VERSION):
	@mkdir -p build/tools
	GOBIN=$(CURDIR)/build/tools GOFLAGS=-mod=mod go install -trimpath helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv build/tools/helm $@

include hack/images.mk

# A single-node cluster in the foreground (Ctrl-C stops it; state stays in DATA_DIR).
up: deps build images
	@mkdir -p $(DATA_DIR)/agent/images
	@cp build/images/*.tar $(DATA_DIR)/agent/images/
	bin/kedge up --data-dir $(DATA_DIR)

vet:
	go vet ./...

# Unit and integration tests (no root needed), then the end-to-end tests
# against a real cluster with containerd (root).
test: deps build images vet unit e2e

unit:
	go test -count=1 ./...

e2e: build images tools
	KEDGE_BIN=$(CURDIR)/bin/kedge KEDGE_IMAGES=$(CURDIR)/build/images KEDGE_HELM=$(CURDIR)/build/tools/helm-$(HELM_VERSION) \
		go test -count=1 -tags e2e -timeout 20m -v ./test/e2e/

clean:
	rm -rf bin build
