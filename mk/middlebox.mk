# Through NATs, firewalls and load balancers (issue 19): max_idle on the
# wire and `keepalive measure`, in a client / NAT router / server lab of
# network namespaces (tests/support/natlab.py). See docs/middleboxes.md.
#
#   make test-middlebox  as root: a connection silent past the router's
#                        conntrack timeout forgotten without keepalive, kept
#                        with max_idle (keepalive-run, keepalive set), the
#                        reset variant, and `keepalive measure` finding a
#                        20 s router within 20 %; anywhere: measure's usage
#                        errors and exit statuses on loopback

.PHONY: test-middlebox
TEST_TARGETS += test-middlebox

test-middlebox: build-tool build-preload build-examples test-runner
	$(APT_ENSURE) python3=python3
	@# The router is nftables (NAT, stateful filter); ss checks the
	@# measurement's connections are all closed.
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) ip=iproute2 ss=iproute2 nft=nftables; fi
	$(TESTS_PYTEST) $(TOP)/tests/middlebox --build $(BUILD)
