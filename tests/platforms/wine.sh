#!/usr/bin/env bash
# wine.sh TARGET_DIR
#
# Lints (clippy -D warnings) and builds the core's Windows tests (its unit
# tests and tests/windows.rs) for
# x86_64-pc-windows-gnu with the same toolchain as check.sh (the standard
# library built from source, linked by mingw-w64) and runs them under Wine
# (64-bit, a throwaway prefix in TARGET_DIR). Wine is not Windows: it
# implements what it implements, and tests/windows.rs reads back what the
# calls did rather than assuming it.
set -euo pipefail

target_dir=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
# What this needs (the rust-web toolchain, mingw-w64 and wine64), and the
# toolchain it runs.
. "$here/toolchain.sh"
require "$RUST_WEB, gcc-mingw-w64-x86-64 and wine64" "${RUST_WEB_FILES[@]}" \
    /usr/bin/x86_64-w64-mingw32-gcc /usr/lib/wine/wine64
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
export WINEPREFIX=$target_dir/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
# Make the prefix once, before the first test binary (whose run would
# otherwise race the prefix's setup); a failure here shows in the tests.
if [[ ! -e $WINEPREFIX/system.reg ]]; then
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
    /usr/lib/wine/wineserver64 --wait || true
fi

# Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard
# library imports (ProcessPrng); a stand-in beside the test binaries, where
# Windows looks first, answers it with RtlGenRandom.
deps=$target_dir/x86_64-pc-windows-gnu/debug/deps
mkdir -p "$deps"
x86_64-w64-mingw32-gcc -Wall -Wextra -Werror -std=c11 -O2 -shared -o "$deps/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32

log=$target_dir/logs/x86_64-pc-windows-gnu-wine.log
mkdir -p "$(dirname "$log")"
start=$SECONDS
if /usr/bin/cargo-clippy clippy --target x86_64-pc-windows-gnu --target-dir "$target_dir" \
    -Zbuild-std=std -p keepalive --lib --test windows -- -D warnings >"$log" 2>&1 &&
    /usr/bin/cargo test --target x86_64-pc-windows-gnu --target-dir "$target_dir" \
    -Zbuild-std=std -p keepalive --lib --test windows -- --nocapture --test-threads=1 >>"$log" 2>&1; then
    result=ok
else
    result=FAIL
fi
passed=$(awk '/^test result:/ { for (i = 2; i <= NF; i++) if ($i == "passed;") n += $(i - 1) }
              END { print n + 0 }' "$log")
printf '%-4s %-28s %-40s %3d s\n' "$result" "x86_64-pc-windows-gnu" \
    "keepalive tests under Wine: ${passed:-0} passed" $((SECONDS - start))
# What this Wine implements, as the tests found it.
grep -oE 'per-option TCP_KEEP\*: read [a-z]+, set [a-z]+|TCP_MAXRTMS: [a-z]+, TCP_MAXRT: [a-z]+' "$log" |
    sed 's/^/    wine: /' || true
if [[ $result == FAIL ]]; then
    sed 's/^/    /' "$log"
    exit 1
fi
