# The Rust workspace: the core crate and every crate built on it.

.PHONY: build-rust test-rust
BUILD_TARGETS += build-rust
TEST_TARGETS  += test-rust

build-rust:
	$(CARGO) build --release --workspace

test-rust:
	$(CARGO) test --workspace
	cd tests/rust-consumer && $(CARGO) run --quiet --target-dir $(TOP)/target/consumer
