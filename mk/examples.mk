# The article's two C programs (c-examples/), their end-to-end tests
# (tests/e2e/) and the newcomer's first look.
#
#   make build-examples  build/bin/tcp_keepalive_client and tcp_keepalive_server,
#                        built with pkg-config against build/ like any user's program
#   make test-e2e        loopback tests of both programs (also ASan+UBSan builds),
#                        then the dead-peer scenarios and the -D deadline in
#                        network namespaces (root)
#   make demo            server and client on loopback, probes on the wire, then
#                        (root) a peer cut off and its death measured, the
#                        deadline kept idle and busy, a crash and reboot

.PHONY: build-examples test-e2e demo demo-build
BUILD_TARGETS += build-examples
INSTALL_TARGETS += build-examples
TEST_TARGETS  += test-e2e

EXAMPLES_MAKE = $(MAKE) --no-print-directory -C $(TOP)/c-examples \
	PKG_CONFIG_PATH=$(BUILD)/lib/pkgconfig
# Sanitized copies for the loopback tests; never staged.
E2E_OUT  := $(TOP)/tests/e2e/out
SANITIZE := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

build-examples: build-c
	$(APT_ENSURE) cc=gcc pkg-config=pkg-config
	$(EXAMPLES_MAKE) O=$(BUILD)/bin RELOCATABLE=1

test-e2e: build-examples test-runner
	$(APT_ENSURE) python3=python3
	@# Root runs the namespace scenarios: they capture with tcpdump and cut with nft.
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) tcpdump=tcpdump nft=nftables; fi
	@# As users build them: against a copy of the prefix elsewhere, found by
	@# PKG_CONFIG_PATH, running with that copy's library.
	rm -rf $(E2E_OUT)/prefix && mkdir -p $(E2E_OUT)/prefix
	cp -a $(BUILD)/lib $(BUILD)/include $(E2E_OUT)/prefix/
	$(MAKE) --no-print-directory -C $(TOP)/c-examples O=$(E2E_OUT)/prefix/bin \
		PKG_CONFIG_PATH=$(E2E_OUT)/prefix/lib/pkgconfig
	ldd $(E2E_OUT)/prefix/bin/tcp_keepalive_client | grep -F "$(E2E_OUT)/prefix/lib/libkeepalive.so.1"
	status=0; $(E2E_OUT)/prefix/bin/tcp_keepalive_server -c 0 0 2>/dev/null || status=$$?; \
		[[ $$status == 2 ]] || { echo "usage exit status $$status, expected 2" >&2; exit 1; }
	$(EXAMPLES_MAKE) O=$(E2E_OUT) CFLAGS="$(SANITIZE)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(TESTS_PYTEST) $(TOP)/tests/e2e/test_programs.py --bin $(E2E_OUT)
	$(TESTS_PYTEST) $(TOP)/tests/e2e --bin $(BUILD)/bin

# The demo builds only what it runs (the Rust core and the C library, then
# the two programs: not the BPF loader, the operator's tool or the wheel),
# quietly: one line says what is being built, the build's commands and output
# go to target/demo-build.log (shown in full if it fails), and the story
# follows.
# Measured on 2 cores from a fresh clone with the crates downloaded: about
# 25 s of build, then 35 s of demo as root (5 s otherwise); a second run
# rebuilds nothing and starts the story at once.
DEMO_LOG := $(TOP)/target/demo-build.log

demo: demo-build
	@$(APT_ENSURE) python3=python3
	@if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) tcpdump=tcpdump nft=nftables || true; fi
	@python3 $(TOP)/tests/e2e/demo.py --bin $(BUILD)/bin

# What `make demo` builds, silent when nothing changed (tests/docs/first_hour.py
# runs it twice and checks that).
demo-build:
	@mkdir -p $(TOP)/target
	@if [[ ! -e $(BUILD)/bin/tcp_keepalive_server ]]; then \
		echo "== make demo: building the C library and the two example programs (about 25 s the first time) ..."; \
	fi
	@start=$$(date +%s); \
	if ! $(MAKE) --no-print-directory build-examples RUST_SCOPE="-p keepalive-ffi" \
		CARGO_QUIET=--quiet >$(DEMO_LOG) 2>&1; then \
		cat $(DEMO_LOG); echo "make demo: the build failed (above; also in $(DEMO_LOG))" >&2; exit 1; \
	fi; \
	if (( $$(date +%s) - start > 2 )); then echo "== built in $$(( $$(date +%s) - start )) s (log: target/demo-build.log)"; fi
