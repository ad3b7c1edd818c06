#!/usr/bin/env bash
# tests/c/run.sh BUILD OUT — the C library's tests against the staged prefix
# BUILD (what `make build-c` produced), building into OUT. Run by `make test-c`.
#
#  1. the committed include/keepalive.h is what cbindgen generates (cargo test),
#     and, where nightly's miri is installed, the boundary's reads of C
#     memory under Miri
#  2. libkeepalive.so exports exactly the contract's functions, has SONAME
#     libkeepalive.so.1 (Debian's libkeepalive0 owns .so.0), and the staged
#     files are where the contract says
#  3. tests/c/test_keepalive.c, compiled through pkg-config with
#     -std=c11 -Wall -Wextra -Werror -pedantic under ASan+UBSan, linked
#     shared, then statically (libkeepalive.a + pkg-config --static --libs)
#  4. tests/c/test_cxx.cpp: the header as C++17, linked against a copy of the
#     prefix moved elsewhere (the .pc file is relocatable)
#  5. docs/c.md's example
#  6. `make install` into temporary prefixes: a program linked without rpath
#     runs with LD_LIBRARY_PATH while Debian's libkeepalive0 is installed, and
#     (root) a prefix in /etc/ld.so.conf.d gets ldconfig run for it
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

# shellcheck source=../lib/check.sh
source "$HERE/../lib/check.sh"

rm -rf "$OUT"
mkdir -p "$OUT"
pc() { PKG_CONFIG_PATH=$BUILD/lib/pkgconfig pkg-config "$@" keepalive; }

# 1. Header freshness (and the Rust-side boundary tests that C cannot reach).
check "cargo test -p keepalive-ffi: header is fresh, boundary unit tests" \
    "$CARGO" test --release --quiet -p keepalive-ffi --lib
check "build/include/keepalive.h is the committed include/keepalive.h" \
    cmp "$TOP/include/keepalive.h" "$BUILD/include/keepalive.h"
# Undefined behaviour in what the boundary reads from C memory (a bool byte
# of 2 in keepalive_settings.enabled) does not show in any output: Miri
# sees it. Run where nightly's miri is installed (`rustup component add
# miri --toolchain nightly`), said and skipped elsewhere.
if "$CARGO" +nightly miri --version >/dev/null 2>&1; then
    check "cargo +nightly miri test: the boundary reads keepalive_settings bytes 0..255 without UB" \
        "$CARGO" +nightly miri test --quiet -p keepalive-ffi --lib --target-dir "$TOP/target/miri" settings_
else
    echo "SKIP cargo miri (the boundary's reads of C memory under Miri): nightly's miri is not installed"
fi

# 2. The library as staged.
expected_exports() {
    printf '%s\n' keepalive_config_check keepalive_deadline_schedule \
        keepalive_deadline_schedule_ex keepalive_disable \
        keepalive_enable keepalive_get keepalive_get_status keepalive_last_error \
        keepalive_request_check keepalive_request_init keepalive_request_parse keepalive_set \
        keepalive_set_deadline keepalive_set_deadline_ex keepalive_set_deadline_probes \
        keepalive_set_request keepalive_set_system_defaults \
        keepalive_set_user_timeout keepalive_settings_dead_after keepalive_system_defaults \
        keepalive_user_timeout_check keepalive_value_parse keepalive_version
}
exports_are_exactly_the_api() {
    local got
    got=$(nm -D --defined-only "$BUILD/lib/libkeepalive.so.1" | awk '{print $3}' | sort)
    diff <(expected_exports) <(echo "$got")
}
echo "nm -D --defined-only build/lib/libkeepalive.so.1:"
nm -D --defined-only "$BUILD/lib/libkeepalive.so.1" | sed 's/^/    /'
check "nm -D --defined-only lists exactly the twenty-three keepalive_* functions" exports_are_exactly_the_api
check "SONAME is libkeepalive.so.1" \
    bash -c "readelf -d '$BUILD/lib/libkeepalive.so.1' | grep -q 'Library soname: \[libkeepalive.so.1\]'"
check "lib/libkeepalive.so is a symlink to libkeepalive.so.1" \
    test "$(readlink "$BUILD/lib/libkeepalive.so")" = libkeepalive.so.1
check "no libkeepalive.so.0 staged (that name is Debian's libkeepalive0)" \
    test ! -e "$BUILD/lib/libkeepalive.so.0"
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
        PKG_CONFIG_PATH=$1 pkg-config --static --libs keepalive | grep -q -- '-lgcc_eh'
}
check "keepalive.pc gives -I/-L/-lkeepalive under build/, and Libs.private" \
    pc_points_at "$BUILD/lib/pkgconfig" "$BUILD"

# Libs.private is written down in mk/c.mk; check it against what this
# toolchain says a Rust staticlib needs in a fully static link (crt-static:
# -lgcc_eh, not the shared-only -lgcc_s of the default list). The FFI crate
# links no native library of its own, so a one-line staticlib gives the same
# list, in 0.1 s instead of a rebuild of the crate.
libs_private_is_the_toolchains() {
    local probe=$OUT/nsl want got
    mkdir -p "$probe"
    echo 'pub fn f() {}' >"$probe/nsl.rs"
    want=$("${RUSTC:-rustc}" --edition 2021 --crate-type staticlib -C target-feature=+crt-static \
        --print native-static-libs "$probe/nsl.rs" -o "$probe/libnsl.a" 2>&1 |
        sed -n 's/.*native-static-libs: //p')
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
check "test_shared uses libkeepalive.so.1" \
    bash -c "readelf -d '$OUT/test_shared' | grep -q 'Shared library: \[libkeepalive.so.1\]'"
# 3b. Static: the archive, then what pkg-config --static says it needs.
# --as-needed drops the -lkeepalive that would otherwise add the .so too.
check "C test builds against libkeepalive.a (pkg-config --static --libs)" \
    build_test "$OUT/test_static" -Wl,--as-needed "$BUILD/lib/libkeepalive.a" $(pc --static --libs)
check "test_static does not need libkeepalive.so" \
    bash -c "! readelf -d '$OUT/test_static' | grep -q libkeepalive"
# 3c. Fully static (cc -static: no shared library at all, no loader), with
# exactly what pkg-config --static says; -lkeepalive then finds the archive.
# Without sanitizers: their runtimes cannot be linked into a static program.
fully_static() {
    "$CC" -static -std=c11 -Wall -Wextra -Werror -pedantic $(pc --static --cflags) \
        "$HERE/smoke.c" -o "$OUT/smoke_static" $(pc --static --libs) &&
        ! readelf -l "$OUT/smoke_static" | grep -q INTERP &&
        ! readelf -d "$OUT/smoke_static" 2>/dev/null | grep -q NEEDED &&
        [[ $("$OUT/smoke_static") == "libkeepalive $(pc --modversion): on=1 idle=30 interval=7 count=4" ]]
}
check "cc -static smoke.c \$(pkg-config --static --cflags --libs keepalive): links, no INTERP/NEEDED, runs" \
    fully_static

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

# 6. `make install` into temporary prefixes, and programs linked against them
# without an rpath, beside Debian's libkeepalive0 (the classic preload
# library, SONAME libkeepalive.so.0, in /usr/lib): a program of ours once
# resolved to that file and died with "undefined symbol: keepalive_set".
MAKE=${MAKE:-make}
inst=$OUT/installed
# With no Python at all (PYTHON=false, a venv path that must stay unmade):
# installing the C library never needs pip or maturin.
make_install() { # make_install PREFIX LOG
    "$MAKE" --no-print-directory -C "$TOP" install PREFIX="$1" PYTHON=false \
        PY_VENV="$OUT/no-venv" >"$2" 2>&1 && test ! -e "$OUT/no-venv" &&
        ! grep -qE 'maturin|pip install' "$2"
}
installs_with_hint() {
    make_install "$inst" "$OUT/install.log" || { cat "$OUT/install.log"; return 1; }
    sed -n '/^== /,$p' "$OUT/install.log"
    grep -q "$inst/lib is not in the loader's search path" "$OUT/install.log" &&
        grep -qF -- "-Wl,-rpath,$inst/lib" "$OUT/install.log" &&
        grep -qF "LD_LIBRARY_PATH=$inst/lib" "$OUT/install.log" &&
        test -L "$inst/lib/libkeepalive.so" -a -f "$inst/lib/libkeepalive.so.1" &&
        test ! -e "$inst/lib/libkeepalive.so.0"
}
check "make install PREFIX=<tmp> without Python: lib/libkeepalive.so -> .so.1, says to use an rpath or LD_LIBRARY_PATH" \
    installs_with_hint
# Every file of the contract's layout (build/ and every PREFIX), but the
# wheel (build/ only).
has_the_layout() {
    local f missing=0
    for f in lib/libkeepalive.so lib/libkeepalive.so.1 lib/libkeepalive.a \
        lib/pkgconfig/keepalive.pc include/keepalive.h lib/libkeepalive-preload.so \
        bin/tcp_keepalive_client bin/tcp_keepalive_server bin/keepalive-run bin/keepalive \
        share/man/man1/keepalive.1 share/man/man1/keepalive-set.1 share/man/man1/keepalive-run.1 \
        share/doc/libkeepalive/README.md share/doc/libkeepalive/docs/operator.md; do
        [[ -e $inst/$f ]] || { echo "missing: $f"; missing=1; }
    done
    [[ ! -e $inst/wheels ]] || { echo "wheels/ installed"; missing=1; }
    [[ ! -e $inst/arm64 ]] || { echo "arm64/ (the aarch64 C library) installed"; missing=1; }
    cmp -s "$TOP/include/keepalive.h" "$inst/include/keepalive.h" ||
        { echo "include/keepalive.h differs from the committed one"; missing=1; }
    "$inst/bin/keepalive" --version && return $missing
}
check "the installed prefix holds the contract's layout (bin/keepalive included), manual pages and docs" has_the_layout
ipc() { PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config "$@" keepalive; }
check "a program builds against the installed prefix without rpath" \
    "$CC" "${CFLAGS[@]}" $(ipc --cflags) "$HERE/smoke.c" -o "$OUT/smoke_norpath" $(ipc --libs)
needs_so1_without_rpath() {
    readelf -d "$OUT/smoke_norpath" | grep -E 'NEEDED|RPATH|RUNPATH'
    readelf -d "$OUT/smoke_norpath" | grep -q 'Shared library: \[libkeepalive.so.1\]' &&
        ! readelf -d "$OUT/smoke_norpath" | grep -qE 'RPATH|RUNPATH'
}
check "readelf -d: NEEDED libkeepalive.so.1 (not .so.0), no RPATH/RUNPATH" needs_so1_without_rpath
smoke_line="libkeepalive $version: on=1 idle=30 interval=7 count=4"
debian_so0=$(dpkg -L libkeepalive0 2>/dev/null | grep -E '/libkeepalive\.so\.0$' | head -n1 || true)
if [[ -z $debian_so0 ]]; then
    if [[ ${CI:-} == true ]]; then
        fail "Debian's libkeepalive0 is installed (make test-c installs it)"
    else
        echo "SKIP beside Debian's libkeepalive0: package not installed (needs root to install)"
    fi
else
    debian_beside() {
        # What the loader picks for the old name: Debian's file. A NEEDED
        # libkeepalive.so.0 went there, whatever LD_LIBRARY_PATH did not cover.
        ldconfig -p | grep -F 'libkeepalive.so.0 ' &&
            [[ $(LD_LIBRARY_PATH=$inst/lib "$OUT/smoke_norpath") == "$smoke_line" ]]
    }
    check "beside Debian's libkeepalive0 ($debian_so0, in the loader's cache as .so.0), it runs with LD_LIBRARY_PATH" \
        debian_beside
    if ldconfig -p | grep -qF 'libkeepalive.so.1 '; then
        echo "SKIP without LD_LIBRARY_PATH: a libkeepalive.so.1 is installed system-wide"
    else
        not_debians() {
            local out rc=0
            out=$("$OUT/smoke_norpath" 2>&1) || rc=$?
            echo "exit $rc: $out"
            ((rc != 0)) && [[ $out == *"libkeepalive.so.1: cannot open shared object file"* ]] &&
                [[ $out != *"undefined symbol"* ]]
        }
        check "without LD_LIBRARY_PATH: 'cannot open libkeepalive.so.1', never Debian's .so.0 and 'undefined symbol'" \
            not_debians
    fi
fi
# A prefix the loader searches (here through a file in /etc/ld.so.conf.d):
# as root make install runs ldconfig; otherwise it prints what to run.
# The prefix, and the copy of install-ld.sh that nobody runs, live in a
# directory anyone can read: the checkout may be where nobody cannot reach
# (root's home is 0700), and then ldconfig, run as nobody, cannot see the
# prefix either.
pub=$(mktemp -d)
chmod 755 "$pub"
install -m 0755 "$TOP/mk/install-ld.sh" "$pub/"
sys=$pub/system-prefix
mkdir -p "$sys/lib"
tells_nonroot_to_run_ldconfig() {
    local conf=$1 out
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$pub/install-ld.sh" "$sys")
    echo "$out"
    [[ $out == *"$sys/lib is in the loader's search path: as root, run"*ldconfig* ]]
}
runs_ldconfig_as_root() {
    make_install "$sys" "$OUT/install-sys.log" || { cat "$OUT/install-sys.log"; return 1; }
    sed -n '/^== /,$p' "$OUT/install-sys.log"
    grep -q "^== ran ldconfig: libkeepalive.so.1 .*=> $sys/lib/libkeepalive.so.1" "$OUT/install-sys.log" &&
        ldconfig -p | grep -qF "=> $sys/lib/libkeepalive.so.1" &&
        [[ $("$OUT/smoke_norpath") == "$smoke_line" ]]
}
if [[ $(id -u) != 0 ]]; then
    echo "SKIP make install into a prefix in /etc/ld.so.conf.d: needs root (to write there and run ldconfig)"
else
    conf=/etc/ld.so.conf.d/zz-libkeepalive-test-$$.conf
    echo "$sys/lib" >"$conf"
    ldconfig
    check "non-root make install into a prefix the loader searches: prints 'as root, run ldconfig'" \
        tells_nonroot_to_run_ldconfig "$conf"
    check "root make install into a prefix the loader searches: runs ldconfig; the no-rpath program runs as is" \
        runs_ldconfig_as_root
    rm -f "$conf"
    ldconfig
fi
rm -rf "$pub"

check_summary "C library"
