#!/usr/bin/env bash
# Probe economy at an equal dead-peer deadline (issue 10), in network
# namespaces (root): the keepalive probes a healthy idle connection sends in
# 10 minutes with our split of D = 150 s (75/25/3 + user timeout 150 s)
# against Go's default KeepAliveConfig (15/15/9) and the even split, and at
# D = 900 s and 3600 s against the even split; each with its tolerance of lost
# probes, of a network blip and of a busy connection. Target: ours at most a
# quarter of Go's probes.
#
# The counts are computed from the schedule (one probe per idle); the model
# and the blip tolerances are checked on the wire, time-scaled, in about 65 s:
# bench/probes (connections through libkeepalive) in the client namespace
# against bench/detect serve (a peer that only answers), a capture of the
# client's veth, outages made with nftables in the peer's namespace
# (bench/probes.py says exactly what runs and what is checked).
#
# Usage: probes.sh   (needs build/lib/libkeepalive.so: make build-c)
# BENCH_KEEP=1 keeps the capture and the results.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/netns.sh"
bench_begin probes

skip_all() {
    bench_skip "Probes D=150 s: ours / Go default, healthy idle connection" "<= 0.25x" "$1"
    bench_skip "Probe model and blips on the wire" "-" "$1"
}
if ! need_root "the probe economy"; then
    skip_all "needs root and ip netns"
    exit 0
fi
if [[ ! -e $BUILD/lib/libkeepalive.so ]]; then
    log "not built yet: the C library ($BUILD/lib/libkeepalive.so; make build-c)"
    skip_all "not built yet: libkeepalive.so"
    exit 0
fi
probes=$(bench_cc probes keepalive)
detect=$(bench_cc detect keepalive)
"$APT_ENSURE" tcpdump=tcpdump

netns_up
tmp=$(mktemp -d)
# On exit, also on failure or interrupt: this script's processes ended, the
# namespaces gone (with the outage rules in them), the capture removed.
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    netns_down
    if [[ -n ${BENCH_KEEP:-} ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Everything the client side sends and receives on the connections' port.
mkfifo "$tmp/tcpdump.err"
ip netns exec "$NS_CLI" tcpdump -i "kabc$$" -nn -s 64 -w "$tmp/probes.pcap" "tcp port 5050" \
    2>"$tmp/tcpdump.err" &
tcpdump_pid=$!
exec {tde}<>"$tmp/tcpdump.err" # read-write: opening never blocks
until [[ ${line:-} == *listening* ]]; do
    read -r -t 30 line <&$tde || { log "tcpdump did not start"; exit 1; }
done

mkfifo "$tmp/serve"
in_srv "$detect" serve 5050 >"$tmp/serve" &
exec {srv}<>"$tmp/serve"
read -r -t 30 line <&$srv || { log "the peer did not start"; exit 1; }
log "probes: peer $line in $NS_SRV; the connections run for about 65 s"

python3 "$here/probes.py" run --prog "$probes" --ns-cli "$NS_CLI" --ns-srv "$NS_SRV" \
    --server "$SRV_IP:5050" --out "$tmp/results.json"

kill -INT $tcpdump_pid
wait $tcpdump_pid || true
hz=$(zcat /proc/config.gz 2>/dev/null | awk -F= '/^CONFIG_HZ=/ { print $2 }' || true)
python3 "$here/probes.py" report --results "$tmp/results.json" --pcap "$tmp/probes.pcap" \
    --client-ip "$CLI_IP" --hz "${hz:-100}" >"$tmp/rows"
bench_rows_from "$tmp/rows"
