# Every platform the README's table names, compiled and linted on every
# change (as socket2's CI does): `cargo clippy -- -D warnings` for each
# target triple, with Debian's rust-web toolchain, which builds a target's
# standard library from source (RUSTC_BOOTSTRAP=1, -Zbuild-std), so nothing
# per target is downloaded but the standard library's own crates.
#
#   check-platforms   one line per target: ok/FAIL, the crates, the time;
#                     the full output under target/platforms/logs/; then the
#                     core's Windows tests (unit tests and tests/windows.rs),
#                     built for x86_64-pc-windows-gnu (mingw-w64) and run
#                     under Wine (tests/platforms/wine.sh)
#
# The core everywhere; the C library (keepalive-ffi) and the Python module
# (keepalive-py) where the README says they build, and the Python module on
# Windows too (the sdist compiles there). The core's per-system arithmetic
# (sys/platform.rs) has unit tests that run on Linux, in test-rust.
#
# Installs Debian's rustc-web, cargo-web, rust-web-src, rust-web-clippy (the
# toolchain, in /usr/bin, used instead of whatever rustup put first on PATH),
# gcc-mingw-w64-x86-64 and wine64.

.PHONY: check-platforms
TEST_TARGETS += check-platforms

# Its own target dir: the main build's is never touched, and each target's
# standard library is kept between runs.
PLATFORMS_TARGET_DIR := $(TOP)/target/platforms

# TARGET=CRATE,... ; one cargo call per target, so its standard library is
# built once for all of its crates.
PLATFORMS := \
	x86_64-apple-darwin=keepalive,keepalive-ffi,keepalive-py \
	aarch64-apple-darwin=keepalive,keepalive-ffi,keepalive-py \
	aarch64-apple-ios=keepalive,keepalive-ffi \
	x86_64-unknown-freebsd=keepalive,keepalive-ffi,keepalive-py \
	x86_64-unknown-dragonfly=keepalive \
	x86_64-unknown-netbsd=keepalive \
	x86_64-unknown-illumos=keepalive \
	aarch64-linux-android=keepalive,keepalive-ffi \
	x86_64-pc-windows-msvc=keepalive,keepalive-py

check-platforms:
	@$(APT_ENSURE) rustc-web cargo-web rust-web-src rust-web-clippy \
	    x86_64-w64-mingw32-gcc=gcc-mingw-w64-x86-64 wine64
	@echo "== check-platforms: clippy -D warnings for $(words $(PLATFORMS)) targets, then Windows tests under Wine"
	@$(TOP)/tests/platforms/check.sh $(PLATFORMS_TARGET_DIR) $(PLATFORMS)
	@$(TOP)/tests/platforms/wine.sh $(PLATFORMS_TARGET_DIR)
