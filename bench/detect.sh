#!/usr/bin/env bash
# Detection accuracy, in network namespaces (root): for idle/interval/count
# 1/1/1, 2/1/3 and 5/2/4, the time from the last ACK received to ETIMEDOUT
# against idle + interval x count. Target: within 2% + 0.1 s.
#
# Each setting runs REPEATS times, all connections at once: bench/detect
# probes in the client namespace connect to bench/detect serve in the server
# namespace, say "ready" once they have exchanged a byte, then the server
# namespace drops every packet and each probe reports ETIMEDOUT with the
# kernel's own "ms since last ACK" (TCP_INFO tcpi_last_ack_recv).
#
# Usage: detect.sh [REPEATS]   (needs build/lib/libkeepalive.so: make build-c)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

repeats=${1:-3}
settings=("1 1 1" "2 1 3" "5 2 4")
bench_begin detect

figure() { echo "Detection $1/$2/$3: last ACK to ETIMEDOUT"; }
tolerance() { awk -v e="$1" 'BEGIN { printf "%.2f", 0.02 * e + 0.1 }'; }

# Records every setting as skipped, for REASON.
skip_all() {
    local s e
    for s in "${settings[@]}"; do
        set -- $s
        e=$(($1 + $2 * $3))
        bench_skip "$(figure $s)" "$e s +- $(tolerance $e) s" "$REASON"
    done
}

if ! need_root "detection accuracy"; then
    REASON="needs root and ip netns" skip_all
    exit 0
fi

if [[ ! -e $BUILD/lib/libkeepalive.so ]]; then
    log "not built yet: the C library ($BUILD/lib/libkeepalive.so; make build-c)"
    REASON="not built yet: libkeepalive.so" skip_all
    exit 0
fi
detect=$(bench_cc detect keepalive)

netns_up
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; netns_down; rm -rf "$tmp"' EXIT

mkfifo "$tmp/serve"
in_srv "$detect" serve 5050 >"$tmp/serve" &
exec {srv}<>"$tmp/serve" # read-write: opening never blocks
read -r -t 30 line <&$srv || { log "the detect server did not start"; exit 1; }
log "detect: server $line in $NS_SRV; starting ${#settings[@]} settings x $repeats probes"

fds=() names=()
for s in "${settings[@]}"; do
    for ((k = 0; k < repeats; k++)); do
        i=${#fds[@]}
        mkfifo "$tmp/p$i"
        in_cli "$detect" probe "$SRV_IP" 5050 $s >"$tmp/p$i" &
        exec {fd}<>"$tmp/p$i"
        fds+=("$fd") names+=("$s")
    done
done
for fd in "${fds[@]}"; do
    read -r -t 30 line <&"$fd" && [[ $line == ready ]] ||
        { log "a probe did not get ready"; exit 1; }
done

log "detect: all ${#fds[@]} probes connected; the server namespace goes dark now"
go_dark "$NS_SRV"

results=()
for i in "${!fds[@]}"; do
    read -r -t 120 line <&"${fds[$i]}" || { log "probe ${names[$i]} never ended"; exit 1; }
    log "  ${names[$i]}: $line"
    results+=("$line")
done

for s in "${settings[@]}"; do
    set -- $s
    expect=$(($1 + $2 * $3))
    tol=$(tolerance $expect)
    # worst |measured - expected| over this setting's runs; any error other
    # than ETIMEDOUT (110) makes the setting a MISS.
    summary=$(printf '%s\n' "${results[@]}" |
        awk -v pre="result idle=$1 interval=$2 count=$3 " -v e="$expect" -v t="$tol" '
        index($0, pre) == 1 {
            n++
            match($0, /last_ack_ms=[0-9]+/); ms = substr($0, RSTART + 12, RLENGTH - 12)
            d = ms / 1000 - e; ad = d < 0 ? -d : d
            if (n == 1 || ad > worst) { worst = ad; wd = d }
            all = all (n > 1 ? " " : "") sprintf("%.3f", ms / 1000)
            if ($0 !~ / errno=110 /) bad++
        }
        END {
            v = (n > 0 && !bad && worst <= t) ? "PASS" : "MISS"
            printf "%s\t%+.3f s worst (%s)%s\n", v, wd, all, bad ? ", not ETIMEDOUT" : ""
        }')
    bench_row "$(figure $s)" "${summary#*$'\t'}" "$expect s +- $tol s" "${summary%%$'\t'*}"
done
