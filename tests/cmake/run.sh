#!/usr/bin/env bash
# tests/cmake/run.sh PREFIX OUT — CMake projects against an installed
# libkeepalive (what `make install PREFIX=...` produced), built in OUT. Run by
# `make test-cmake`.
#
#  1. PREFIX/lib/cmake/keepalive/ holds the config and version files, and the
#     static target's link libraries are pkg-config --static's
#  2. tests/cmake/c (keepalive::keepalive; -DKEEPALIVE_STATIC=ON for static) and
#     tests/cmake/cxx (keepalive::keepalive_shared / _static), each built shared
#     and static with CMAKE_PREFIX_PATH=PREFIX and run: a deadline set on a
#     real loopback connection and read back. Shared binaries need
#     libkeepalive.so.N from PREFIX; static ones need no libkeepalive at all.
#  3. the same against a copy of PREFIX moved elsewhere (relocatable)
#  4. find_package with a version this install does not satisfy fails
#
# Prints PASS/FAIL per check and "N passed, N failed"; exits 1 on a failure.
set -euo pipefail

PREFIX=$(realpath "${1:?usage: run.sh PREFIX OUT}")
OUT=${2:?usage: run.sh PREFIX OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

# shellcheck source=../lib/check.sh
source "$HERE/../lib/check.sh"

check "lib/cmake/keepalive/ has keepalive-config.cmake and keepalive-config-version.cmake" \
    test -f "$PREFIX/lib/cmake/keepalive/keepalive-config.cmake" -a \
    -f "$PREFIX/lib/cmake/keepalive/keepalive-config-version.cmake"

# The static target links what `pkg-config --static --libs keepalive` lists
# beyond -lkeepalive itself, in the same order (each library once, since
# pkg-config may fold a repeated -l).
static_libs_are_pkg_configs() {
    local want got
    want=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --static --libs-only-l keepalive |
        tr ' ' '\n' | grep -v '^-lkeepalive$' | sed -n 's/^-l//p' | awk '!seen[$0]++' | paste -sd';')
    got=$(sed -n 's/.*INTERFACE_LINK_LIBRARIES "\([^"]*\)").*/\1/p' \
        "$PREFIX/lib/cmake/keepalive/keepalive-config.cmake" | tr ';' '\n' | awk '!seen[$0]++' |
        paste -sd';')
    echo "pkg-config --static: $want"
    echo "keepalive::keepalive_static: $got"
    [[ -n $want && $want == "$got" ]]
}
check "keepalive::keepalive_static links what pkg-config --static --libs lists" static_libs_are_pkg_configs

# build PROJECT LINK PREFIX BUILDDIR -CMAKE-ARGS...: configure, build, run.
build_and_run() {
    local project=$1 link=$2 prefix=$3 dir=$4 exe needed
    shift 4
    rm -rf "$dir"
    cmake -S "$HERE/$project" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" "$@" >"$dir.log" 2>&1 ||
        { cat "$dir.log"; return 1; }
    cmake --build "$dir" >>"$dir.log" 2>&1 || { cat "$dir.log"; return 1; }
    exe=$(find "$dir" -maxdepth 1 -type f -name 'deadline_*' -perm -u+x)
    needed=$(readelf -d "$exe" | sed -n 's/.*Shared library: \[\(libkeepalive[^]]*\)\].*/\1/p')
    if [[ $link == shared ]]; then
        [[ $needed == libkeepalive.so.* ]] || { echo "needs '$needed', not libkeepalive.so.N"; return 1; }
        # It runs against the prefix's library (CMake's build RPATH), no other.
        ldd "$exe" | grep -F "$needed => $prefix/lib/" ||
            { ldd "$exe"; echo "does not load $needed from $prefix/lib"; return 1; }
    else
        [[ -z $needed ]] || { echo "static build still needs $needed"; return 1; }
    fi
    "$exe"
}

moved=$OUT/moved/prefix
rm -rf "$OUT/moved" && mkdir -p "$OUT/moved"
cp -a "$PREFIX" "$moved"

for where in installed moved; do
    prefix=$PREFIX
    [[ $where == moved ]] && prefix=$moved
    check "C, keepalive::keepalive, shared ($where prefix)" \
        build_and_run c shared "$prefix" "$OUT/c-shared-$where"
    check "C, keepalive::keepalive with KEEPALIVE_STATIC=ON ($where prefix)" \
        build_and_run c static "$prefix" "$OUT/c-static-$where" -DKEEPALIVE_STATIC=ON
    check "C++, keepalive::keepalive_shared ($where prefix)" \
        build_and_run cxx shared "$prefix" "$OUT/cxx-shared-$where" -DLINK=shared
    check "C++, keepalive::keepalive_static ($where prefix)" \
        build_and_run cxx static "$prefix" "$OUT/cxx-static-$where" -DLINK=static
done

# Which versions the install satisfies (it is 0.MINOR.PATCH: the same minor only).
version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$PREFIX/lib/cmake/keepalive/keepalive-config-version.cmake")
minor=${version%.*}
want_fails() {
    rm -rf "$OUT/version-$1"
    if cmake -S "$HERE/version" -B "$OUT/version-$1" -DCMAKE_PREFIX_PATH="$PREFIX" -DWANT="$1" \
        >"$OUT/version-$1.log" 2>&1; then
        echo "find_package(keepalive $1) succeeded against $version"
        return 1
    fi
    grep -q "keepalive" "$OUT/version-$1.log" && grep -q "$version" "$OUT/version-$1.log"
}
want_works() {
    rm -rf "$OUT/version-$1"
    cmake -S "$HERE/version" -B "$OUT/version-$1" -DCMAKE_PREFIX_PATH="$PREFIX" -DWANT="$1"
}
check "find_package(keepalive $version) and ($minor) are satisfied" \
    bash -c "$(declare -f want_works); OUT=$OUT HERE=$HERE PREFIX=$PREFIX; want_works $version && want_works $minor"
for bad in 99.0 "${minor%.*}.$((${minor#*.} + 1))"; do
    check "find_package(keepalive $bad) is refused, naming $version" \
        bash -c "$(declare -f want_fails); OUT=$OUT HERE=$HERE PREFIX=$PREFIX version=$version; want_fails $bad"
done

check_summary "CMake"
