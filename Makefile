# libkeepalive: orchestration only. Each part of the project keeps its own
# rules in mk/<part>.mk and adds its targets to the lists below.
#
#   make demo                 the C server and client on loopback, then a dead peer detected
#   make test                 every test of every language
#   make build                everything staged into build/
#   make install PREFIX=/dir  the same layout under /dir (no Python tools needed:
#                             it builds and installs everything but the wheel)
#   make bench                benchmarks, as ratios against raw syscalls

SHELL       := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

TOP     := $(CURDIR)
BUILD   := $(TOP)/build
PREFIX  ?= /usr/local
CARGO   ?= cargo
# Release artifacts of the workspace (libraries, binaries).
RELEASE := $(TOP)/target/release
# Installs Debian packages a target needs, once per machine.
APT_ENSURE := $(TOP)/tests/lib/apt-ensure.sh

# What `make build` stages; INSTALL_TARGETS is the part of it that `make
# install` needs (everything but the wheel, so that installing the C library
# never needs pip or maturin).
BUILD_TARGETS   :=
INSTALL_TARGETS :=
TEST_TARGETS    :=
BENCH_TARGETS   :=

include $(sort $(wildcard mk/*.mk))

.PHONY: build test install demo bench clean
build: $(BUILD_TARGETS)
	@echo "== build/ is staged: $$(cd $(BUILD) && find . -type f -o -type l | sort | tr '\n' ' ')"

test: $(TEST_TARGETS)
	@echo "== make test: every suite passed"

install: $(INSTALL_TARGETS)
	install -d "$(PREFIX)"
	@# Not the wheels, nor the aarch64 C library (build/arm64: another machine's).
	cd $(BUILD) && tar --exclude=./wheels --exclude=./arm64 -cf - . | tar -xf - -C "$(PREFIX)"
	@echo "== installed into $(PREFIX)"
	@$(TOP)/mk/install-ld.sh "$(PREFIX)"

bench: $(BENCH_TARGETS)

clean:
	rm -rf $(BUILD) target
