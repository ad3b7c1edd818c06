# LD_PRELOAD mode: lib/libkeepalive-preload.so and bin/keepalive-run, and
# their end-to-end tests (tests/preload/run.sh) against libkeepalive 0.3.

.PHONY: build-preload test-preload
BUILD_TARGETS += build-preload
INSTALL_TARGETS += build-preload
TEST_TARGETS  += test-preload

PRELOAD_TEST_DIR := $(TOP)/target/preload-tests
PRELOAD_CFLAGS   := -std=c11 -Wall -Wextra -Werror -pedantic -pthread -g \
                    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

build-preload: build-rust
	install -d $(BUILD)/lib $(BUILD)/bin
	install -m 0755 $(RELEASE)/libkeepalive_preload.so $(BUILD)/lib/libkeepalive-preload.so
	install -m 0755 $(RELEASE)/keepalive-run $(BUILD)/bin/keepalive-run

# The probe runs under AddressSanitizer and UBSan; libkeepalive0 is the
# classic 0.3 library the tests compare against.
test-preload: build-preload
	$(APT_ENSURE) cc=gcc nm=binutils python3=python3 curl=curl strace=strace libkeepalive0
	@# As root: a mount namespace overlaying /etc (secure execution), and a
	@# network namespace with an nftables rule (curl against a cut-off server).
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) unshare=util-linux ip=iproute2 nft=nftables; fi
	install -d $(PRELOAD_TEST_DIR)
	$(CC) $(PRELOAD_CFLAGS) -o $(PRELOAD_TEST_DIR)/probe tests/preload/probe.c
	tests/preload/run.sh $(BUILD) $(PRELOAD_TEST_DIR)/probe
