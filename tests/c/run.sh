#!/usr/bin/env bash
# tests/c/run.sh BUILD OUT — the C library's tests against the staged prefix
# BUILD (what `make build-c` produced), building into OUT. Run by `make test-c`.
#
#  1. the committed include/keepalive.h is what cbindgen generates (cargo test)
#  2. libkeepalive.so exports exactly the contract's functions, has SONAME
#     libkeepalive.so.0, and the staged files are where the contract says
#  3. tests/c/test_keepalive.c, compiled through pkg-config with
#     -std=c11 -Wall -Wextra -Werror -pedantic under ASan+UBSan, linked
#     shared, then statically (libkeepalive.a + pkg-config --static --libs)
#  4. tests/c/test_cxx.cpp: the header as C++17, linked against a copy of the
#     prefix moved elsewhere (the .pc file is relocatable)
#
# Prints PASS/FAIL per check and "N passed, N failed"; exits 1 on a failure.
set -euo pipefail

BUILD=${1:?usage: run.sh BUILD OUT}
OUT=${2:?usage: run.sh BUILD OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CARGO=${CARGO:-cargo}
CC=${CC:-cc}
CXX=${CXX:-g++}

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic "${SAN[@]}")
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic "${SAN[@]}")
# Leaks are errors, with nothing suppressed: the per-thread message is freed
# by the thread-local's destructor, and the main thread's stays reachable.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
# check NAME CMD...: runs CMD, PASS/FAIL by its status, its output shown on failure.
check() {
    local name=$1 log
    shift
    if log=$("$@" 2>&1); then pass "$name"; else echo "$log" | sed 's/^/    /'; fail "$name"; fi
}

rm -rf "$OUT"
mkdir -p "$OUT"
pc() { PKG_CONFIG_PATH=$BUILD/lib/pkgconfig pkg-config "$@" keepalive; }

# 1. Header freshness (and the Rust-side boundary tests that C cannot reach).
check "cargo test -p keepalive-ffi: header is fresh, boundary unit tests" \
    "$CARGO" test --release --quiet -p keepalive-ffi --lib
check "build/include/keepalive.h is the committed include/keepalive.h" \
    cmp "$TOP/include/keepalive.h" "$BUILD/include/keepalive.h"

# 2. The library as staged.
expected_exports() {
    printf '%s\n' keepalive_config_check keepalive_deadline_schedule keepalive_disable \
        keepalive_enable keepalive_get keepalive_get_status keepalive_last_error keepalive_set \
        keepalive_set_deadline keepalive_set_deadline_probes keepalive_set_system_defaults \
        keepalive_set_user_timeout keepalive_settings_dead_after keepalive_system_defaults \
        keepalive_user_timeout_check keepalive_version
}
exports_are_exactly_the_api() {
    local got
    got=$(nm -D --defined-only "$BUILD/lib/libkeepalive.so.0" | awk '{print $3}' | sort)
    diff <(expected_exports) <(echo "$got")
}
echo "nm -D --defined-only build/lib/libkeepalive.so.0:"
nm -D --defined-only "$BUILD/lib/libkeepalive.so.0" | sed 's/^/    /'
check "nm -D --defined-only lists exactly the sixteen keepalive_* functions" exports_are_exactly_the_api
check "SONAME is libkeepalive.so.0" \
    bash -c "readelf -d '$BUILD/lib/libkeepalive.so.0' | grep -q 'Library soname: \[libkeepalive.so.0\]'"
check "lib/libkeepalive.so is a symlink to libkeepalive.so.0" \
    test "$(readlink "$BUILD/lib/libkeepalive.so")" = libkeepalive.so.0
check "lib/libkeepalive.a is an archive holding the API" \
    bash -c "nm --defined-only '$BUILD/lib/libkeepalive.a' 2>/dev/null | grep -q ' T keepalive_set_user_timeout$'"
# pc_points_at PCDIR PREFIX: keepalive.pc in PCDIR gives -I PREFIX/include,
# -L PREFIX/lib, -lkeepalive and a Libs.private for static links.
pc_points_at() {
    local flags word inc="" lib="" l=0
    flags=$(PKG_CONFIG_PATH=$1 pkg-config --cflags --libs keepalive)
    echo "pkg-config --cflags --libs: $flags"
    echo "pkg-config --static --libs: $(PKG_CONFIG_PATH=$1 pkg-config --static --libs keepalive)"
    for word in $flags; do
        case $word in
        -I*) inc=$(realpath "${word#-I}") ;;
        -L*) lib=$(realpath "${word#-L}") ;;
        -lkeepalive) l=1 ;;
        esac
    done
    [[ $inc == $(realpath "$2/include") && -f $inc/keepalive.h ]] &&
        [[ $lib == $(realpath "$2/lib") && -e $lib/libkeepalive.so ]] && ((l)) &&
        PKG_CONFIG_PATH=$1 pkg-config --static --libs keepalive | grep -q -- '-lgcc_s'
}
check "keepalive.pc gives -I/-L/-lkeepalive under build/, and Libs.private" \
    pc_points_at "$BUILD/lib/pkgconfig" "$BUILD"

# Libs.private is written down in mk/c.mk; check it against what this
# toolchain says a Rust staticlib needs (the FFI crate links no native library
# of its own, so a one-line staticlib gives the same list, in 0.1 s instead of
# a rebuild of the crate).
libs_private_is_the_toolchains() {
    local probe=$OUT/nsl want got
    mkdir -p "$probe"
    echo 'pub fn f() {}' >"$probe/nsl.rs"
    want=$("${RUSTC:-rustc}" --edition 2021 --crate-type staticlib --print native-static-libs \
        "$probe/nsl.rs" -o "$probe/libnsl.a" 2>&1 | sed -n 's/.*native-static-libs: //p')
    got=$(sed -n 's/^Libs.private: //p' "$BUILD/lib/pkgconfig/keepalive.pc")
    echo "rustc native-static-libs: $want"
    echo "keepalive.pc Libs.private: $got"
    [[ -n $want && $want == "$got" ]]
}
check "Libs.private is what rustc says a staticlib needs" libs_private_is_the_toolchains

version=$(pc --modversion)
build_test() { # build_test OUTPUT LINK-ARGS...
    local out=$1
    shift
    "$CC" "${CFLAGS[@]}" -DEXPECTED_VERSION="\"$version\"" $(pc --cflags) \
        "$HERE/test_keepalive.c" -o "$out" -pthread "$@"
}

# 3a. Shared: exactly what a user writes, plus an rpath to find build/lib.
check "C test builds against libkeepalive.so (pkg-config --cflags --libs)" \
    build_test "$OUT/test_shared" $(pc --libs) -Wl,-rpath,"$BUILD/lib"
check "test_shared uses libkeepalive.so.0" \
    bash -c "readelf -d '$OUT/test_shared' | grep -q 'Shared library: \[libkeepalive.so.0\]'"
# 3b. Static: the archive, then what pkg-config --static says it needs.
# --as-needed drops the -lkeepalive that would otherwise add the .so too.
check "C test builds against libkeepalive.a (pkg-config --static --libs)" \
    build_test "$OUT/test_static" -Wl,--as-needed "$BUILD/lib/libkeepalive.a" $(pc --static --libs)
check "test_static does not need libkeepalive.so" \
    bash -c "! readelf -d '$OUT/test_static' | grep -q libkeepalive"

run_suite() { # run_suite NAME BINARY
    local rc=0
    echo "== $1"
    "$2" || rc=$?
    if ((rc == 0)); then pass "$1"; else fail "$1 (exit status $rc)"; fi
}
[[ -x $OUT/test_shared ]] && run_suite "C tests, shared, ASan+UBSan" "$OUT/test_shared"
[[ -x $OUT/test_static ]] && run_suite "C tests, static, ASan+UBSan" "$OUT/test_static"

# 4. C++, against a copy of the prefix somewhere else.
moved=$OUT/moved-prefix
mkdir -p "$moved/lib/pkgconfig" "$moved/include"
cp -P "$BUILD"/lib/libkeepalive.so* "$BUILD/lib/libkeepalive.a" "$moved/lib/"
cp "$BUILD/lib/pkgconfig/keepalive.pc" "$moved/lib/pkgconfig/"
cp "$BUILD/include/keepalive.h" "$moved/include/"
mpc() { PKG_CONFIG_PATH=$moved/lib/pkgconfig pkg-config "$@" keepalive; }
check "keepalive.pc is relocatable (a moved copy points at itself)" \
    pc_points_at "$moved/lib/pkgconfig" "$moved"
check "C++17 test builds (header in extern \"C\", -Wall -Wextra -Werror -pedantic)" \
    "$CXX" "${CXXFLAGS[@]}" $(mpc --cflags) "$HERE/test_cxx.cpp" -o "$OUT/test_cxx" \
    $(mpc --libs) -Wl,-rpath,"$moved/lib"
[[ -x $OUT/test_cxx ]] && run_suite "C++ tests, ASan+UBSan" "$OUT/test_cxx"

# 5. The usage example of docs/c.md compiles (C11, pedantic) and prints what
# the document says it prints.
docs_example() {
    local doc=$TOP/docs/c.md
    awk '/^```c$/{on=1;next} /^```$/{if(on)exit} on' "$doc" >"$OUT/keepalive_demo.c"
    awk '/^```console$/{on=1;next} /^```$/{on=0} on && !/^\$ /' "$doc" >"$OUT/demo.expected"
    # (errexit does not apply inside `check`, hence the &&)
    "$CC" "${CFLAGS[@]}" "$OUT/keepalive_demo.c" -o "$OUT/keepalive_demo" \
        $(pc --cflags --libs) -Wl,-rpath,"$BUILD/lib" &&
        "$OUT/keepalive_demo" >"$OUT/demo.out" &&
        diff "$OUT/demo.expected" "$OUT/demo.out"
}
check "docs/c.md's example builds and prints what the document shows" docs_example

echo "== C library: $passed passed, $failed failed"
((failed == 0))
