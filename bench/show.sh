#!/usr/bin/env bash
# `keepalive show PID --json` against `ss -tnoip` on the same sockets: one
# process holding 8,000 loopback connections, both ends (16,001 TCP sockets),
# alone in a network namespace of its own, so that ss lists exactly the
# sockets show lists. Runs interleaved (show, ss, ss, show, ...), figure =
# median of the per-round ratios show/ss. Target <= 1.00x (issue 20, item 16).
# The table form of show is timed too, for scale.
#
# Usage: show.sh [ROUNDS [CONNECTIONS]]
#   (needs build/bin/keepalive: make build-tool; root for the namespace)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=${1:-11} conns=${2:-8000}
sockets=$((2 * conns + 1))
figure="show --json vs ss -tnoip, $sockets sockets"
target="<= 1.00x"
bench_begin show

tool=$BUILD/bin/keepalive
bench_unless_built "$tool" "make build-tool" "$figure" "$target"
bench_unless_root "$figure" "$target" "a network namespace of its own"
"$APT_ENSURE" ss=iproute2 unshare=util-linux nsenter=util-linux python3=python3

tmp=$(mktemp -d)
trap 'kill "$holder" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The holder: prog.py of the operator tests, in a new network namespace.
unshare -n sh -c 'ip link set lo up && exec python3 "$0" many "$1"' \
    "$TOP/tests/operator/prog.py" "$conns" >"$tmp/holder" 2>&1 &
holder=$!
for ((i = 0; i < 600; i++)); do
    grep -qs "^ready " "$tmp/holder" && break
    kill -0 "$holder" 2>/dev/null || { cat "$tmp/holder" >&2; exit 1; }
    sleep 0.1
done
pid=$(sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' "$tmp/holder")
[[ -n $pid ]] || { log "the holder never became ready"; exit 1; }
in_ns() { nsenter -t "$pid" -n "$@"; }

# Both list every socket: checked once, then timed.
n_show=$(in_ns "$tool" show "$pid" --json | grep -c '"pid":')
n_ss=$(in_ns ss -tanH | wc -l)
log "show: $sockets sockets held by pid $pid; show --json lists $n_show, ss -ta $n_ss (ss -tnoip lists all but the listener)"
if ((n_show != sockets || n_ss != sockets)); then
    log "they do not list the same sockets"
    exit 1
fi

# ns CMD...: the nanoseconds CMD takes, its output thrown away.
ns() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    echo $((t1 - t0))
}

ratios=() table_ratios=() shows=() sss=()
for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then
        a=$(ns in_ns "$tool" show "$pid" --json); b=$(ns in_ns ss -tnoip)
    else
        b=$(ns in_ns ss -tnoip); a=$(ns in_ns "$tool" show "$pid" --json)
    fi
    t=$(ns in_ns "$tool" show "$pid")
    ratios+=("$(ratio "$a" "$b")") table_ratios+=("$(ratio "$t" "$b")")
    shows+=("$a") sss+=("$b")
    log "  round $((r + 1))/$rounds: show --json $((a / 1000000)) ms, ss -tnoip $((b / 1000000)) ms, show (table) $((t / 1000000)) ms"
done
ratio_row "$figure" "$target" 1e6 ms "${ratios[*]}" "${shows[*]}" "${sss[*]}" 2
mt=$(median_of "${table_ratios[@]}")
bench_row "  (show as a table vs ss -tnoip, for scale)" \
    "$(awk -v m="$mt" 'BEGIN { printf "%.2fx", m }')" "-" "-"
