# kedge — see README.md. Targets: up, test, build, images, unit, e2e.
SHELL := /bin/bash
export CGO_ENABLED := 0
DATA_DIR ?= /var/lib/kedge
GOFILES := $(shell find cmd internal -name '*.go' 2>/dev/null) go.mod go.sum

.PHONY: all build deps up test unit e2e vet clean

all: build

build: bin/kedge

bin/kedge: $(GOFILES)
	go build -trimpath -ldflags "-s -w" -o bin/kedge ./cmd/kedge

deps:
	@hack/install-deps.sh

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

e2e: build images
	KEDGE_BIN=$(CURDIR)/bin/kedge KEDGE_IMAGES=$(CURDIR)/build/images \
		go test -count=1 -tags e2e -timeout 20m -v ./test/e2e/

clean:
	rm -rf bin build
