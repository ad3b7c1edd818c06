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
if [[ ! -x $tool ]]; then
    log "not built yet: the operator's tool ($tool; make build-tool)"
    bench_skip "$figure" "$target" "not built yet: build/bin/keepalive"
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    log "show vs ss needs root (a network namespace of its own): skipped"
    bench_skip "$figure" "$target" "needs root"
    exit 0
fi
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
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.5f", a / b }')")
    table_ratios+=("$(awk -v a="$t" -v b="$b" 'BEGIN { printf "%.5f", a / b }')")
    shows+=("$a") sss+=("$b")
    log "  round $((r + 1))/$rounds: show --json $((a / 1000000)) ms, ss -tnoip $((b / 1000000)) ms, show (table) $((t / 1000000)) ms"
done
m=$(median_of "${ratios[@]}")
mt=$(median_of "${table_ratios[@]}")
ms=$(median_of "${shows[@]}")
mss=$(median_of "${sss[@]}")
measured=$(awk -v m="$m" -v a="$ms" -v b="$mss" \
    'BEGIN { printf "%.2fx (%.0f vs %.0f ms)", m, a / 1e6, b / 1e6 }')
bench_row "$figure" "$measured" "$target" "$(verdict "$m" 1.00)"
bench_row "  (show as a table vs ss -tnoip, for scale)" \
    "$(awk -v m="$mt" 'BEGIN { printf "%.2fx", m }')" "-" "-"
