# keepalive, the operator's tool (crates/keepalive-tool): show, set and
# defaults; its end-to-end tests in tests/operator/ (see docs/operator.md).
#
#   make build-tool  build/bin/keepalive
#   make test-tool   the crate's unit tests, then real processes retuned on
#                    loopback and (root) across network namespaces, an
#                    unprivileged caller refused, and the system defaults
#                    set in fresh namespaces through the tool, C and Python

.PHONY: build-tool test-tool
BUILD_TARGETS += build-tool
INSTALL_TARGETS += build-tool
TEST_TARGETS  += test-tool

build-tool: build-rust
	install -d $(BUILD)/bin
	install -m 0755 $(RELEASE)/keepalive $(BUILD)/bin/keepalive

# The C and Python checks of the system defaults use build/ (header, library,
# wheel); each skips saying why while its binding lacks set_system_defaults.
test-tool: build-tool build-c build-py build-preload test-runner
	$(CARGO) test -p keepalive-tool
	$(APT_ENSURE) python3=python3
	@# As root: namespaces (ip, unshare, nft to cut a host), an unprivileged
	@# caller (setpriv), sysctl -p for --persist, and a C compiler.
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) ip=iproute2 unshare=util-linux \
		setpriv=util-linux nft=nftables sysctl=procps cc=gcc pkg-config=pkg-config; fi
	$(TESTS_PYTEST) $(TOP)/tests/operator --build $(BUILD)
