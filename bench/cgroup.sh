#!/usr/bin/env bash
# The per-connection cost of the cgroup policy's sock_ops program: 100,000
# loopback connect+accept+close (connloop.c) in a cgroup with the policy
# (keepalive cgroup attach -D 5) against the same in a sibling cgroup without
# one; runs interleaved (with, without, without, with, ...), figure = median
# of the per-round ratios with/without. Each connection runs the program for
# both its ends (the client's and the accepted one). Target <= 1.10x.
# For scale, a third side: the same values set by the program itself with
# setsockopt on both ends, no BPF (what turning keepalive on costs anyway).
#
# Usage: cgroup.sh [ROUNDS [CONNECTIONS]]
#   (root; needs build/bin/keepalive built with the BPF programs:
#   make build-cgroup build-tool. Mounts the BPF filesystem at /sys/fs/bpf if none is,
#   and unmounts it again.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rounds=${1:-9} conns=${2:-100000}
figure="cgroup: $conns x connect+close, policy vs none"
target="<= 1.10x"
bench_begin cgroup
tool=$BUILD/bin/keepalive
ctl() { "$tool" cgroup "$@"; }

bench_unless_root "$figure" "$target" "cgroups, BPF"
v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [[ -z $v2 ]]; then
    bench_skip "$figure" "$target" "no cgroup v2 mounted"
    exit 0
fi
bench_unless_built "$tool" "make build-tool" "$figure" "$target"
connloop=$(bench_cc connloop)

with=$v2/ka-bench-$$-policy without=$v2/ka-bench-$$-none mounted=
cleanup() {
    ctl detach "$with" >/dev/null 2>&1 || true
    rmdir "$with" "$without" 2>/dev/null || true
    if [[ -n $mounted ]]; then umount /sys/fs/bpf; fi
}
trap cleanup EXIT
if ! awk '$3 == "bpf" { found = 1 } END { exit !found }' /proc/mounts; then
    mount -t bpf bpf /sys/fs/bpf && mounted=1
fi
mkdir "$with" "$without"
ctl attach "$with" -D 5 >&2

# run CGROUP WANT [--set]: prints the loop's nanoseconds, run inside
# CGROUP, after checking that a connection's two ends hold WANT.
run() {
    local out first
    out=$(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$1" "$connloop" "$conns" "${@:3}")
    first=${out%%$'\n'*}
    if [[ $first != "client=$2 accepted=$2" ]]; then
        log "in $1 a connection has '$first', want client=$2 accepted=$2"
        return 1
    fi
    echo "${out##*ns=}"
}
on=1/2/1/3/5000
off=0/$(cat /proc/sys/net/ipv4/tcp_keepalive_time)/$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
off=$off/$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)/0

ratios=() witht=() withoutt=() selft=() selfratios=()
log "cgroup: $rounds rounds of $conns connections each, interleaved"
for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then
        w=$(run "$with" "$on"); o=$(run "$without" "$off")
    else
        o=$(run "$without" "$off"); w=$(run "$with" "$on")
    fi
    s=$(run "$without" "$on" --set)
    ratios+=("$(ratio "$w" "$o")") selfratios+=("$(ratio "$s" "$o")")
    witht+=("$w") withoutt+=("$o") selft+=("$s")
    log "  round $((r + 1))/$rounds: with the policy $((w / conns)) ns, without $((o / conns)) ns, set by the program $((s / conns)) ns per connection"
done
ratio_row "$figure" "$target" "$conns" ns "${ratios[*]}" "${witht[*]}" "${withoutt[*]}"
ratio_row "  (the same values set by the program itself, for scale)" - "$conns" ns \
    "${selfratios[*]}" "${selft[*]}" "${withoutt[*]}"
tuned=$(ctl list --json | python3 -c "import json,sys; print([r['tuned'] for r in json.load(sys.stdin) if r['cgroup'] == sys.argv[1]][0])" "$with")
log "cgroup: the sock_ops program counted $tuned connection ends tuned"
