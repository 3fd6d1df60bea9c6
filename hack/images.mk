# Local images: no registry is reachable, so kedge builds its own.
#
#   make images   -> build/images/{pause,busybox,echo-1,echo-2}.tar
#
# pause is C (gcc -static) when a static C toolchain works, else Go.
# The tarballs are rebuilt only when a binary or the builder changed.

IMAGES_DIR    ?= build/images
ECHO_VERSIONS ?= 1 2
BUSYBOX       ?= /bin/busybox
CC            ?= cc
GO            ?= go

PAUSE_BIN  := build/pause
ECHO_BINS  := $(foreach v,$(ECHO_VERSIONS),build/echo-$(v))
IMAGES_SRC := $(filter-out %_test.go,$(wildcard internal/images/*.go)) hack/mkimages/main.go internal/cluster/cluster.go

# Does `$(CC) -static` produce a binary here? (needs libc.a)
STATIC_CC := $(shell printf 'int main(void){return 0;}' | $(CC) -static -x c -o /dev/null - >/dev/null 2>&1 && echo yes)

.PHONY: images images-clean

images: $(IMAGES_DIR)/.stamp

ifeq ($(STATIC_CC),yes)
$(PAUSE_BIN): internal/images/pause/pause.c
	@mkdir -p $(dir $@)
	$(CC) -static -Os -s -Wall -Wextra -o $@ $<
else
$(PAUSE_BIN): internal/images/pause/gopause/main.go
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@ ./internal/images/pause/gopause
endif

build/echo-%: test/images/echo/main.go
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$*" -o $@ ./test/images/echo

$(IMAGES_DIR)/.stamp: $(PAUSE_BIN) $(ECHO_BINS) $(BUSYBOX) $(IMAGES_SRC)
	$(GO) run ./hack/mkimages -out $(IMAGES_DIR) -pause $(PAUSE_BIN) -busybox $(BUSYBOX) \
		$(foreach v,$(ECHO_VERSIONS),-echo $(v)=build/echo-$(v))
	@touch $@

images-clean:
	rm -rf $(IMAGES_DIR) $(PAUSE_BIN) $(ECHO_BINS)

$(BUSYBOX):
	@echo "images: $@ not found; install Debian's busybox-static (apt-get install busybox-static) or set BUSYBOX=" >&2; exit 1
