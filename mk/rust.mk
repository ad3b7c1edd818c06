# The Rust workspace: the core crate and every crate built on it.
#
#   make rust-toolchain  checks that cargo is there; when it is not and make
#                        runs as root on Debian, installs Debian 12's
#                        cargo-web/rustc-web (Rust 1.96; the workspace needs
#                        1.87, the Python module 1.85, the libraries 1.74)
#   make build-rust      the workspace in release mode, but the Python module
#   make test-rust       every crate's tests (as root also those that need root,
#                        marked #[ignore = "needs root: ..."]; under CI=true
#                        not being root is a failure), an outside crate using
#                        the core, and each crate's rust-version against its
#                        dependencies'
#   make test-rust-doc   the workspace's API docs build without one rustdoc
#                        warning (broken or private links, bad markup)

.PHONY: rust-toolchain build-rust test-rust test-rust-doc
BUILD_TARGETS += build-rust
TEST_TARGETS  += test-rust test-rust-doc

# What build-rust builds: the workspace but the Python module, which is left
# to build-py (maturin, its own target dir). `make demo` narrows it to the C
# library (RUST_SCOPE=-p keepalive-ffi) and quiets cargo (CARGO_QUIET).
RUST_SCOPE  ?= --workspace --exclude keepalive-py
CARGO_QUIET ?=

# Debian 12's own rustc (1.63) is too old; its rustc-web/cargo-web are the
# current Rust, installed in /usr/bin like any Debian package. Elsewhere:
# rustup (https://rustup.rs).
rust-toolchain:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
		if [[ $$(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then \
			echo "== no cargo: installing Debian's cargo-web and rustc-web (Rust 1.96)" >&2; \
			$(APT_ENSURE) cargo=cargo-web rustc=rustc-web || true; \
		fi; \
		command -v $(CARGO) >/dev/null 2>&1 || { \
			echo "make: no $(CARGO) on PATH. libkeepalive needs Rust 1.87 or later (cargo and rustc):" >&2; \
			echo "  Debian 12, as root:  apt-get install cargo-web rustc-web   (what make does as root)" >&2; \
			echo "  anywhere else:       rustup (https://rustup.rs), then run make again" >&2; \
			exit 1; }; \
	}

build-rust: rust-toolchain
	$(CARGO) build --release $(RUST_SCOPE) $(CARGO_QUIET)

test-rust: rust-toolchain
	$(CARGO) test --workspace
	@# The tests that need root are #[ignore = "needs root: WHY"] (the only
	@# #[ignore] of the workspace): run as root; listed and skipped otherwise.
	@if [[ $$(id -u) == 0 ]]; then \
		echo "$(CARGO) test --workspace --tests -- --ignored   (the tests that need root)"; \
		$(CARGO) test --workspace --tests -- --ignored; \
	else \
		$(CARGO) test --workspace --tests -- --ignored --list 2>/dev/null | grep ': test$$' || true; \
		$(call skip_or_fail,the Rust tests listed above need root (run make test as root)); \
	fi
	cd tests/rust-consumer && $(CARGO) run --quiet --target-dir $(TOP)/target/consumer
	python3 $(TOP)/tests/rust/msrv.py

# The workspace's API docs (target/doc), a rustdoc warning being an error.
test-rust-doc: rust-toolchain
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace
