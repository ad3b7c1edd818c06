# Keepalive for every connection of a cgroup, with BPF (issue 12):
# crates/keepalive-bpf (the C programs in bpf/ and their aya loader, behind
# the operator's tool's `keepalive cgroup`, crates/keepalive-tool), its tests
# in tests/cgroup/ and its benchmark in bench/cgroup.sh. See docs/cgroup.md.
#
#   make build-cgroup  installs clang, llvm, libbpf-dev and bpftool, then builds
#                      the crate and the tool (bin/keepalive) with the BPF
#                      programs (a build without them, which the workspace
#                      allows where clang is missing, is refused here)
#   make test-cgroup   as root: static C, static and cgo Go, python3 in a fresh
#                      cgroup; a dead peer across namespaces; --enforce;
#                      existing connections; detach; every refusal; another
#                      user's pin directories and locks; an attach killed at
#                      each bpf(2) call (test_hardening.py, strace)
#   make bench-cgroup  connect+close on loopback inside a policy cgroup vs outside

.PHONY: build-cgroup test-cgroup bench-cgroup
BUILD_TARGETS += build-cgroup
TEST_TARGETS  += test-cgroup
BENCH_TARGETS += bench-cgroup

CGROUP_OUT := $(TOP)/target/cgroup-tests
CGROUP_CFLAGS := -std=c11 -Wall -Wextra -Werror -O2
# Go's caches inside the tree, not in $HOME.
CGROUP_GO  := GOCACHE=$(CGROUP_OUT)/go-cache GOPATH=$(CGROUP_OUT)/go-path go build -trimpath

# After build-rust, which may have run before clang was there (the crate
# then builds without its programs); before build-tool stages bin/keepalive.
build-cgroup: build-rust
	$(APT_ENSURE) clang=clang llvm-strip=llvm libbpf-dev bpftool=bpftool
	KEEPALIVE_BPF_REQUIRE=1 $(CARGO) build --release -p keepalive-bpf -p keepalive-tool
build-tool: build-cgroup

# The probes are built here as their users build them: the C one with
# -static (and a dynamic copy for the LD_PRELOAD comparison), the Go one
# with Debian's golang-go, static (CGO_ENABLED=0) and with cgo.
test-cgroup: build-tool build-preload test-runner
	$(APT_ENSURE) cc=gcc go=golang-go python3=python3 setpriv=util-linux flock=util-linux strace=strace
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) ip=iproute2 nft=nftables; fi
	install -d $(CGROUP_OUT)
	$(CC) $(CGROUP_CFLAGS) -static -o $(CGROUP_OUT)/probe-c-static tests/cgroup/probe.c
	$(CC) $(CGROUP_CFLAGS) -o $(CGROUP_OUT)/probe-c-dynamic tests/cgroup/probe.c
	CGO_ENABLED=0 $(CGROUP_GO) -o $(CGROUP_OUT)/probe-go tests/cgroup/probe.go tests/cgroup/probe_cgo.go
	CGO_ENABLED=1 $(CGROUP_GO) -o $(CGROUP_OUT)/probe-go-cgo tests/cgroup/probe.go tests/cgroup/probe_cgo.go
	clang -target bpf -O2 -g -Wall -Wextra -Werror -idirafter /usr/include/$$($(CC) -print-multiarch) \
		-c tests/cgroup/filler.bpf.c -o $(CGROUP_OUT)/filler.bpf.o
	$(TESTS_PYTEST) $(TOP)/tests/cgroup --build $(BUILD) --probes $(CGROUP_OUT)

bench-cgroup: build-tool
	$(APT_ENSURE) cc=gcc
	$(BENCH_ENV) bench/cgroup.sh

# In `make bench`, after the other benchmarks, never beside them: they must
# not share the CPUs.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
bench-cgroup: bench-all
endif
