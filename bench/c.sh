#!/usr/bin/env bash
# C cost: keepalive_set against its 4 raw setsockopt, keepalive_get against
# its 5 raw getsockopt (bench/c_overhead.c); target <= 1.05x for both.
#
# Usage: c.sh [ROUNDS [BATCH]]   (needs build/lib/libkeepalive.so: make build-c)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_begin c

if [[ ! -e $BUILD/lib/libkeepalive.so || ! -e $BUILD/lib/pkgconfig/keepalive.pc ]]; then
    log "not built yet: the C library ($BUILD/lib/libkeepalive.so, keepalive.pc; make build-c)"
    for f in "C keepalive_set vs 4 setsockopt" "C keepalive_get vs 5 getsockopt"; do
        bench_skip "$f" "<= 1.05x" "not built yet: libkeepalive.so"
    done
    exit 0
fi
bin=$(bench_cc c_overhead keepalive rawloop.c)
log "c: $bin (-O2, linked shared against $BUILD/lib)"
"$bin" "$@" >"$BENCH_OUT/c.raw"
bench_rows_from "$BENCH_OUT/c.raw"
