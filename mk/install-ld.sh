#!/usr/bin/env bash
# mk/install-ld.sh PREFIX — run by `make install` once PREFIX holds the files:
# says how programs will find PREFIX/lib/libkeepalive.so.1 at run time.
#
# - PREFIX/lib is a directory the loader searches by itself (its built-in
#   directories, or one listed in /etc/ld.so.conf*): as root, runs ldconfig so
#   that the cache knows libkeepalive.so.1; otherwise prints the command to run.
# - Any other PREFIX: prints how to use it (an rpath, or LD_LIBRARY_PATH).
#
# Debian's libkeepalive0 (the classic preload library) owns libkeepalive.so.0;
# ours is libkeepalive.so.1, so the two coexist in the same directories.
set -euo pipefail

prefix=${1:?usage: install-ld.sh PREFIX}
lib=$(realpath -m "$prefix/lib")

# The loader's own directories, then those of ldconfig's configuration (-v
# lists each scanned directory on a line of its own; -N -X change nothing).
searched() {
    local d multiarch
    multiarch=$(gcc -print-multiarch 2>/dev/null || true)
    for d in /lib /usr/lib /lib64 /usr/lib64 ${multiarch:+/lib/$multiarch /usr/lib/$multiarch}; do
        [[ -d $d ]] && realpath "$d"
    done
    ldconfig -v -N -X 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p' | while read -r d; do
        [[ -d $d ]] && realpath "$d"
    done
    true
}

if searched | grep -qxF "$lib"; then
    if [[ $(id -u) == 0 ]]; then
        ldconfig
        echo "== ran ldconfig: $(ldconfig -p | grep -F "libkeepalive.so.1 " | sed 's/^[[:space:]]*//' ||
            echo "libkeepalive.so.1 not in the cache")"
    else
        echo "== $lib is in the loader's search path: as root, run"
        echo "     ldconfig"
        echo "   so that programs find libkeepalive.so.1 there."
    fi
else
    echo "== $lib is not in the loader's search path; programs linked against it find"
    echo "   libkeepalive.so.1 through an rpath:"
    echo "     cc app.c \$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs keepalive) -Wl,-rpath,$lib"
    echo "   or at run time: LD_LIBRARY_PATH=$lib ./app"
fi
