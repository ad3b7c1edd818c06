# `keepalive watch` (issue 23): every TCP connection the kernel gives up on,
# host-wide, with its cause. The BPF program is crates/keepalive-bpf/bpf/
# watch.bpf.c (built with the others by `make build-cgroup`), its loader
# crates/keepalive-bpf/src/watch.rs, the subcommand crates/keepalive-tool/
# src/watch.rs. See docs/operator.md.
#
#   make test-watch   as root: five connections die in network namespaces (an
#                     idle one whose peer is cut: keepalive; a busy one: user
#                     timeout, and without one: retransmissions; a reader that
#                     stopped: zero window; a peer that rebooted: reset), each
#                     seen once with its cause, pid, command and silence; an
#                     unprivileged caller refused
#   make bench-watch  connect+close on loopback with the watch running vs not

.PHONY: test-watch bench-watch
TEST_TARGETS  += test-watch
BENCH_TARGETS += bench-watch

test-watch: build-tool test-runner
	$(APT_ENSURE) python3=python3 setpriv=util-linux
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) ip=iproute2 nft=nftables; fi
	$(TESTS_PYTEST) $(TOP)/tests/watch --build $(BUILD)

bench-watch: build-tool
	$(APT_ENSURE) cc=gcc
	$(BENCH_ENV) bench/watch.sh

# In `make bench`, after the other benchmarks (and the cgroup one), never
# beside them: they must not share the CPUs.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
bench-watch: bench-all bench-cgroup
endif
