#!/usr/bin/env bash
# Preload cost: 100,000 socket()+close() under libkeepalive-preload.so against
# the same under the classic libkeepalive 0.3 (Debian libkeepalive0), both with
# KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5; runs interleaved (new, old, old, new,
# ...), figure = median of the per-round ratios new/old. Target <= 1.05x.
#
# Usage: preload.sh [ROUNDS [SOCKETS]]
#   (needs build/lib/libkeepalive-preload.so: make build-preload; installs
#   Debian's libkeepalive0 when missing)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=${1:-15} sockets=${2:-100000}
figure="Preload: $sockets x socket()+close() vs 0.3"
target="<= 1.05x"
bench_begin preload

new=$BUILD/lib/libkeepalive-preload.so
bench_unless_built "$new" "make build-preload" "$figure" "$target"
"$APT_ENSURE" libkeepalive0
old=$(dpkg -L libkeepalive0 | grep -m1 '/libkeepalive\.so\.0$')
sockloop=$(bench_cc sockloop)

export KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5
want="keepalive=1 idle=60 interval=10 count=5"

# run LIB: prints the loop's nanoseconds under LD_PRELOAD=LIB, after checking
# that LIB really turned keepalive on with the variables' values.
run() {
    local out
    out=$(LD_PRELOAD=$1 "$sockloop" "$sockets")
    if [[ ${out%%$'\n'*} != "$want" ]]; then
        log "under $1 a new TCP socket has '${out%%$'\n'*}', want '$want'"
        return 1
    fi
    echo "${out##*ns=}"
}

# And the plain loop, for scale (informational: no target).
base=() ratios=() newt=() oldt=()
log "preload: $rounds rounds of $sockets sockets each, interleaved (new=$new, old=$old)"
for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then
        n=$(run "$new"); o=$(run "$old")
    else
        o=$(run "$old"); n=$(run "$new")
    fi
    b=$("$sockloop" "$sockets" | sed -n 's/^ns=//p')
    ratios+=("$(ratio "$n" "$o")")
    newt+=("$n") oldt+=("$o") base+=("$b")
    log "  round $((r + 1))/$rounds: new $((n / sockets)) ns, 0.3 $((o / sockets)) ns, no preload $((b / sockets)) ns per socket"
done
ratio_row "$figure" "$target" "$sockets" ns "${ratios[*]}" "${newt[*]}" "${oldt[*]}"
mb=$(median_of "${base[@]}")
bench_row "  (no preload at all, for scale)" \
    "$(awk -v b="$mb" -v s="$sockets" 'BEGIN { printf "%.0f ns per socket", b / s }')" "-" "-"
