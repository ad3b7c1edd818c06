# Sourced by check.sh and wine.sh: Debian's rust-web toolchain (rustc-web,
# cargo-web, rust-web-src, rust-web-clippy), not whatever rustup put first
# on PATH, with the library sources that -Zbuild-std compiles.
#
#   require "WHAT" PATH...   every PATH exists, else a skip that says why
#                            (a failure under CI=true); mk/platforms.mk
#                            installs them as root

require() {
    local what=$1 need
    shift
    for need in "$@"; do
        if [[ ! -e $need ]]; then
            if [[ ${CI:-} == true ]]; then
                echo "FAIL $(basename "$0"): $need is missing ($what)" >&2
                exit 1
            fi
            echo "SKIP $(basename "$0"): $need is missing ($what; needs root to install)"
            exit 0
        fi
    done
}

RUST_WEB="Debian's rustc-web, cargo-web, rust-web-src, rust-web-clippy"
RUST_WEB_FILES=(/usr/bin/cargo-clippy /usr/lib/rustlib/src/rust/library/Cargo.lock)

export PATH=/usr/bin:$PATH
export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER
