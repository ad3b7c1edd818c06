#!/usr/bin/env bash
# check.sh TARGET_DIR TARGET=CRATE,CRATE ...
#
# Compiles and lints (clippy -D warnings) the given crates for each target
# triple, with a toolchain that builds the target's standard library from
# source (-Zbuild-std; Debian's rust-web packages, see mk/platforms.mk), so
# no target needs to be installed. One cargo call per target: its standard
# library is built once and reused by every crate of that target. Prints one
# line per target with its result and time; the full output of a failing
# target follows its line. Exits 1 when any target fails.
set -uo pipefail

target_dir=$1
shift
logs=$target_dir/logs
mkdir -p "$logs"

# What this needs, and the toolchain it runs.
. "$(dirname "$0")/toolchain.sh"
require "$RUST_WEB" "${RUST_WEB_FILES[@]}"
# Speed: the standard library is compiled (not only checked) for each
# target; without debug info and without its optional features (backtrace
# symbolization) that takes about 30% less. Neither changes what clippy
# says about our crates.
export CARGO_PROFILE_DEV_DEBUG=false

failed=()
for spec in "$@"; do
    target=${spec%%=*}
    crates=${spec#*=}
    packages=()
    for crate in ${crates//,/ }; do packages+=(-p "$crate"); done
    log=$logs/$target.log
    start=$SECONDS
    if /usr/bin/cargo-clippy clippy --quiet --target "$target" --target-dir "$target_dir" \
        -Zbuild-std=std -Zbuild-std-features= "${packages[@]}" -- -D warnings >"$log" 2>&1; then
        result=ok
    else
        result=FAIL
        failed+=("$target")
    fi
    printf '%-4s %-28s %-40s %3d s\n' "$result" "$target" "${crates//,/ }" $((SECONDS - start))
    if [[ $result == FAIL ]]; then
        sed 's/^/    /' "$log"
    fi
done

if ((${#failed[@]})); then
    echo "check-platforms: failed on ${failed[*]}" >&2
    exit 1
fi
