# The Rust workspace: the core crate and every crate built on it.

.PHONY: build-rust test-rust
BUILD_TARGETS += build-rust
TEST_TARGETS  += test-rust

# The Python module is left to build-py (maturin, its own target dir): what
# the C library, the preload library and the tools need builds without it.
build-rust:
	$(CARGO) build --release --workspace --exclude keepalive-py

test-rust:
	$(CARGO) test --workspace
	cd tests/rust-consumer && $(CARGO) run --quiet --target-dir $(TOP)/target/consumer
