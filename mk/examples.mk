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

.PHONY: build-examples test-e2e demo demo-note
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

test-e2e: build-examples
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
		python3 $(TOP)/tests/e2e/run.py --bin $(E2E_OUT) test_programs
	python3 $(TOP)/tests/e2e/run.py --bin $(BUILD)/bin

# demo-note comes first: on a fresh clone the build below compiles the Rust
# core and its dependencies in release mode, which takes about a minute (38 s
# measured on 2 cores with the crates already downloaded, then 23 s of demo),
# and nothing else would say why the demo has not started.
demo: demo-note build-examples
	$(APT_ENSURE) python3=python3
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) tcpdump=tcpdump nft=nftables || true; fi
	@python3 $(TOP)/tests/e2e/demo.py --bin $(BUILD)/bin

demo-note:
	@if [[ ! -e $(RELEASE)/libkeepalive_ffi.so ]]; then \
		echo "== make demo: first, a release build of the Rust core, the C library (libkeepalive.so)"; \
		echo "   and the two example programs. This first build takes about a minute (more while"; \
		echo "   cargo downloads crates); later ones a few seconds. Then the demo runs for about"; \
		echo "   25 s (5 s when not root)."; \
	fi
