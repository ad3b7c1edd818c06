#!/usr/bin/env bash
# What `keepalive watch` costs each connection: loopback connect+accept+close
# (connloop.c) with the watch running against the same without it; runs
# interleaved (with, without, without, with, ...), figure = median of the
# per-round ratios with/without. Two sides:
#   - clean closes (connloop --fin): the common case, where the BPF program
#     only records and forgets owners on the connection's state changes
#     (SYN_SENT, LISTEN, SYN_RECV, CLOSE). Target <= 1.10x.
#   - every connection reset (connloop's client closes with SO_LINGER 0): the
#     worst case, one death reported per connection (ring buffer, the tool
#     decoding and printing a JSON line to /dev/null). Reported, no target.
# The watch's own count of lines and of lost events is checked against the
# number of connections reset.
#
# Usage: watch.sh [ROUNDS [CONNECTIONS]]
#   (root; needs build/bin/keepalive built with the BPF programs:
#   make build-cgroup build-tool)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=${1:-7} conns=${2:-50000}
figure="watch: $conns x connect+close, watch running vs not"
worst="  (every connection reset: one death reported each)"
target="<= 1.10x"
bench_begin watch
tool=$BUILD/bin/keepalive

bench_unless_root "$figure" "$target" "BPF"
bench_unless_built "$tool" "make build-tool" "$figure" "$target"
connloop=$(bench_cc connloop)
tmp=$(mktemp -d)
watcher=
stop_watch() {
    if [[ -n $watcher ]]; then
        kill -INT "$watcher" 2>/dev/null || true
        wait "$watcher" || { log "keepalive watch exited $?"; return 1; }
        watcher=
    fi
}
trap 'stop_watch || true; rm -rf "$tmp"' EXIT

# start_watch: the watch on, once it says it is watching.
start_watch() {
    : >"$tmp/err"
    "$tool" watch --json >"$tmp/lines" 2>"$tmp/err" &
    watcher=$!
    for _ in $(seq 300); do
        grep -q "watching every TCP connection" "$tmp/err" && return 0
        sleep 0.02
    done
    log "keepalive watch did not start: $(cat "$tmp/err")"
    return 1
}

# run WATCH(1|0) [--fin]: the loop's nanoseconds, with or without the watch.
run() {
    local out
    if [[ $1 == 1 ]]; then start_watch; fi
    out=$("$connloop" "$conns" "${@:2}")
    if [[ $1 == 1 ]]; then
        stop_watch
        if [[ $* != *--fin* ]]; then
            # Every accepted end was reset: one line each (plus the loop's
            # first, describing connection), none lost.
            local n lost
            n=$(grep -c '"command":"connloop"' "$tmp/lines" || true)
            lost=$(sed -n 's/.* \([0-9]*\) events lost$/\1/p' "$tmp/err")
            log "    the watch reported $n connloop deaths, lost ${lost:-?}"
            if ((n + ${lost:-0} < conns)); then
                log "the watch missed deaths silently: $n reported, ${lost:-?} lost, $conns reset"
                return 1
            fi
        fi
    fi
    echo "${out##*ns=}"
}

ratios=() worst_ratios=() witht=() withoutt=() wworst=() oworst=()
log "watch: $rounds rounds of $conns connections each, interleaved"
for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then
        w=$(run 1 --fin); o=$(run 0 --fin)
        ow=$(run 0); ww=$(run 1)
    else
        o=$(run 0 --fin); w=$(run 1 --fin)
        ww=$(run 1); ow=$(run 0)
    fi
    ratios+=("$(ratio "$w" "$o")") worst_ratios+=("$(ratio "$ww" "$ow")")
    witht+=("$w") withoutt+=("$o") wworst+=("$ww") oworst+=("$ow")
    log "  round $((r + 1))/$rounds: clean close $((w / conns)) ns with the watch, $((o / conns)) ns without; reset $((ww / conns)) vs $((ow / conns)) ns"
done
ratio_row "$figure" "$target" "$conns" ns "${ratios[*]}" "${witht[*]}" "${withoutt[*]}"
ratio_row "$worst" - "$conns" ns "${worst_ratios[*]}" "${wworst[*]}" "${oworst[*]}"
