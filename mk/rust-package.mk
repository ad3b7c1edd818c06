# The core crate as Rust users get it: `cargo package -p keepalive` (what
# crates.io would receive: README, license files, metadata, no path-only
# dependency), and its tokio example showing a dead client declared dead.
#
#   make test-rust-package  cargo package -p keepalive (builds the packaged
#                           crate on its own), then the tokio example in a
#                           private network namespace with an nftables cut
#                           (root; skipped with the reason otherwise,
#                           a failure under CI=true)

.PHONY: test-rust-package
TEST_TARGETS += test-rust-package

test-rust-package:
	@# --allow-dirty: `make test` runs in working trees with changes too;
	@# what is packaged is what is on disk.
	$(CARGO) package -p keepalive --allow-dirty --target-dir $(TOP)/target/package-check
	$(CARGO) package -p keepalive --allow-dirty --list | tee $(TOP)/target/package-files.txt
	for f in README.md LICENSE-MIT LICENSE-APACHE Cargo.toml src/lib.rs; do \
		grep -qx "$$f" $(TOP)/target/package-files.txt || { echo "cargo package: $$f missing" >&2; exit 1; }; \
	done
	$(CARGO) build -p keepalive --example tokio_server
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) nft=nftables unshare=util-linux ip=iproute2 python3=python3; fi
	@if [[ $$(id -u) != 0 ]]; then \
		$(call skip_or_fail,tokio example: a dead client needs root (a network namespace and an nftables rule)); \
	elif ! unshare --net true 2>/dev/null; then \
		$(call skip_or_fail,tokio example: \`unshare --net\` does not work here); \
	else \
		unshare --net -- python3 $(TOP)/tests/rust/tokio_dead_client.py $(TOP)/target/debug/examples/tokio_server; \
	fi
