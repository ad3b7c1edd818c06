#!/usr/bin/env bash
# tests/arm64/run.sh WHEEL PREFIX PYROOT OUT — the aarch64 builds, run:
#   WHEEL   build/wheels/libkeepalive-*_aarch64.whl
#   PREFIX  build/arm64 (lib/libkeepalive.so.1, .so, .a; include/keepalive.h)
#   PYROOT  an arm64 Debian root with CPython (tests/arm64/python-root.sh)
#   OUT     a scratch directory
# The C library: an aarch64 ELF with SONAME libkeepalive.so.1 exporting the
# API, and tests/c/smoke.c, compiled for aarch64 by zig against it (shared
# and static), run under qemu-aarch64-static on a real socket. The wheel:
# installed for CPython 3.11 aarch64 with pytest, its API suites run by the
# arm64 CPython under qemu. Needs PY_VENV (pip and ziglang).
# Prints PASS/FAIL per case and "== arm64: N passed, N failed"
# (tests/lib/check.sh); exits 1 on a failure.
set -uo pipefail

wheel=$1 prefix=$2 pyroot=$3 out=$4
top=$(cd "$(dirname "$0")/../.." && pwd)
venv=${PY_VENV:?set PY_VENV to the .venv with pip and ziglang}
qemu=qemu-aarch64-static
# shellcheck source=../lib/check.sh
source "$top/tests/lib/check.sh"
rm -rf "$out" && mkdir -p "$out"

# --- the C library -----------------------------------------------------------
elf_is_aarch64() {
    readelf -h "$prefix/lib/libkeepalive.so.1" | grep -E 'Machine:\s+AArch64'
}
check "libkeepalive.so.1 is an aarch64 ELF" elf_is_aarch64
soname_and_exports() {
    readelf -d "$prefix/lib/libkeepalive.so.1" | grep -F 'Library soname: [libkeepalive.so.1]' &&
        for f in keepalive_set keepalive_get keepalive_set_deadline keepalive_get_status keepalive_version; do
            nm -D --defined-only "$prefix/lib/libkeepalive.so.1" | grep -qw "$f" || { echo "missing $f"; return 1; }
        done
}
check "SONAME libkeepalive.so.1, the API exported" soname_and_exports
archive_is_aarch64() {
    (cd "$out" && mkdir -p ar && cd ar && ar x "$prefix/lib/libkeepalive.a" &&
        readelf -h "$(ls | grep -m1 '\.o$')" | grep -E 'Machine:\s+AArch64')
}
check "libkeepalive.a holds aarch64 objects" archive_is_aarch64

zigcc() { "$venv/bin/python" -m ziglang cc -target aarch64-linux-gnu.2.17 "$@"; }
smoke_line() { # smoke_line BINARY: runs it under qemu and checks its one line
    local line
    line=$(LD_LIBRARY_PATH=$prefix/lib "$qemu" -L "$pyroot" "$1") || return 1
    echo "$line"
    [[ $line == "libkeepalive "*": on=1 idle=30 interval=7 count=4" ]]
}
shared_smoke() {
    zigcc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" "$top/tests/c/smoke.c" \
        -L"$prefix/lib" -lkeepalive -o "$out/smoke" && smoke_line "$out/smoke"
}
check "smoke.c against libkeepalive.so.1, under qemu-aarch64: set and read back on a real socket" shared_smoke
static_smoke() {
    zigcc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" "$top/tests/c/smoke.c" \
        "$prefix/lib/libkeepalive.a" -lpthread -ldl -lm -lunwind -o "$out/smoke-static" &&
        ! readelf -d "$out/smoke-static" | grep -q 'libkeepalive' && smoke_line "$out/smoke-static"
}
check "smoke.c against libkeepalive.a, under qemu-aarch64" static_smoke

# --- the wheel -----------------------------------------------------------------
# pip of the build machine fetches for the target: the wheel itself and
# pytest (pure Python), for CPython 3.11 on manylinux2014_aarch64.
site=$out/site-packages   # the name test_api.py checks for: an installed wheel
install_for_aarch64() {
    "$venv/bin/python" -m pip install -q --target "$site" --platform manylinux2014_aarch64 \
        --python-version 3.11 --implementation cp --only-binary=:all: $wheel pytest &&
        readelf -h "$site"/keepalive/_keepalive*.so | grep -E 'Machine:\s+AArch64'
}
check "pip installs the wheel for CPython 3.11 aarch64" install_for_aarch64
arm_python() { # runs the arm64 CPython (-P: the current directory's source tree never shadows the wheel)
    PYTHONPATH=$site "$qemu" -L "$pyroot" "$pyroot/usr/bin/python3" -P "$@"
}
imports() {
    arm_python -c 'import keepalive, platform, sys
print(platform.machine(), sys.version.split()[0], keepalive.__version__, keepalive._keepalive.__file__)
assert platform.machine() == "aarch64"'
}
check "import keepalive on aarch64 CPython" imports
# The suites that need no client library and start no other Python (an
# aarch64 program cannot start another one here: no binfmt_misc), as the
# sdist and the other CPythons run them (mk/python.mk), on real sockets.
suites=(tests/test_api.py tests/test_errors.py tests/test_socket_options.py
    tests/test_call_paths.py tests/test_concurrency.py)
pytest_on_aarch64() {
    (cd "$top/python" && arm_python -m pytest -p no:cacheprovider -q "${suites[@]}") | tee "$out/pytest.log"
}
check "pytest ${suites[*]} on aarch64 (qemu)" pytest_on_aarch64
grep -E '^[0-9]+ passed' "$out/pytest.log" | sed 's/^/    pytest: /'

check_summary "arm64"
