# (Read after python.mk, whose venv and wheel directory it uses.)
# aarch64 (arm64) Linux: AWS Graviton, Ampere servers, Docker on Apple
# silicon. The abi3 wheel (manylinux2014_aarch64) and the C library
# (libkeepalive.so.1, libkeepalive.a), cross-built on this x86_64 machine,
# checked, and the wheel's tests run under qemu-user with an arm64 CPython.
#
#   make build-arm64  build/wheels/libkeepalive-*-manylinux2014_aarch64*.whl and
#                     build/arm64/lib/libkeepalive.{so.1,so,a} (about 2 min)
#   make test-arm64   auditwheel (manylinux_2_17_aarch64) and abi3audit on the
#                     wheel; the C library's machine, SONAME and exports; then
#                     the wheel's API suites with Debian's arm64 CPython 3.11
#                     under qemu-aarch64-static (tests/arm64/run.sh)
#
# The Rust standard library for aarch64 is compiled from source: the
# rustup-installed toolchains here have no other targets and nothing can be
# downloaded but from crates.io, PyPI and Debian. Debian's rustc-web and
# cargo-web (Rust 1.96) with rust-web-src (the library's source) do it with
# RUSTC_BOOTSTRAP=1 and cargo's build-std; zig (the .venv's ziglang, as for
# the x86_64 wheel) links against glibc 2.17.

.PHONY: build-arm64 test-arm64
TEST_TARGETS += test-arm64

ARM64_TRIPLE  := aarch64-unknown-linux-gnu
# Two target directories: maturin's flags differ from a plain cargo build's,
# and in one directory each build would redo the other's every time.
ARM64_TARGET  := $(TOP)/target/arm64
ARM64_C_TARGET := $(TOP)/target/arm64-c
ARM64_PREFIX  := $(BUILD)/arm64
ARM64_WHEEL    = $(PY_WHEELS)/libkeepalive-*_aarch64.whl
ARM64_PYROOT  := $(TOP)/target/arm64-python
# Debian's toolchain first on PATH (its cargo, rustc and library source), the
# venv's python (for zig) before it.
ARM64_ENV := PATH=$(PY_VENV)/bin:/usr/bin:$$PATH RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo \
	RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort

build-arm64: $(PY_VENV)/.ready
	$(APT_ENSURE) /usr/bin/cargo=cargo-web /usr/bin/rustc=rustc-web rust-web-src
	rm -f $(ARM64_WHEEL)
	@echo "== aarch64 wheel (build-std: the standard library is compiled too)"
	cd python && $(ARM64_ENV) $(PY_VENV)/bin/maturin build --release --zig \
		--compatibility $(PY_MANYLINUX) --target $(ARM64_TRIPLE) \
		--out $(PY_WHEELS) --target-dir $(ARM64_TARGET) >$(TOP)/target/arm64-wheel.log 2>&1 || \
		{ cat $(TOP)/target/arm64-wheel.log; exit 1; }
	@wheels=($(ARM64_WHEEL)); \
	if [[ $${#wheels[@]} != 1 || $${wheels[0]} != *-cp39-abi3-$(PY_MANYLINUX)_aarch64.manylinux_2_17_aarch64.whl ]]; then \
		echo "build-arm64: expected one cp39-abi3-$(PY_MANYLINUX)_aarch64 wheel, got: $${wheels[*]}" >&2; exit 1; \
	fi; echo "== wheel: $${wheels[0]#$(TOP)/}"
	@echo "== aarch64 C library"
	$(ARM64_ENV) CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$(TOP)/tests/arm64/zig-cc \
		ZIG_PYTHON=$(PY_VENV)/bin/python \
		/usr/bin/cargo build --quiet --release -p keepalive-ffi --target $(ARM64_TRIPLE) \
		--target-dir $(ARM64_C_TARGET)
	install -d $(ARM64_PREFIX)/lib $(ARM64_PREFIX)/include
	install -C -m 0755 $(ARM64_C_TARGET)/$(ARM64_TRIPLE)/release/libkeepalive_ffi.so $(ARM64_PREFIX)/lib/libkeepalive.so.1
	ln -sfn libkeepalive.so.1 $(ARM64_PREFIX)/lib/libkeepalive.so
	install -C -m 0644 $(ARM64_C_TARGET)/$(ARM64_TRIPLE)/release/libkeepalive_ffi.a $(ARM64_PREFIX)/lib/libkeepalive.a
	install -C -m 0644 $(TOP)/include/keepalive.h $(ARM64_PREFIX)/include/keepalive.h

test-arm64: build-arm64
	$(APT_ENSURE) qemu-aarch64-static=qemu-user-static readelf=binutils
	$(PY_VENV)/bin/auditwheel show $(ARM64_WHEEL) | tee $(TOP)/target/auditwheel-arm64.txt
	tr -s ' \n' ' ' <$(TOP)/target/auditwheel-arm64.txt | \
		grep -q 'consistent with the following platform tag: "manylinux_2_17_aarch64"'
	$(PY_VENV)/bin/abi3audit --strict --verbose $(ARM64_WHEEL)
	bash $(TOP)/tests/arm64/python-root.sh $(ARM64_PYROOT)
	PY_VENV=$(PY_VENV) bash $(TOP)/tests/arm64/run.sh $(ARM64_WHEEL) $(ARM64_PREFIX) $(ARM64_PYROOT) \
		$(TOP)/target/arm64-test
