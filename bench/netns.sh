# Sourced by the namespace benchmarks: two network namespaces joined by a
# veth pair, a server side and a client side, and a way to make one go dark.
#
#   netns_up           creates $NS_SRV (192.0.2.1) and $NS_CLI (192.0.2.2),
#                      torn down again when the calling script exits
#   in_srv CMD...      runs CMD in the server namespace
#   in_cli CMD...      runs CMD in the client namespace
#   go_dark NS         drops every packet in and out of namespace NS (nftables),
#                      the way a host that lost power looks from outside

SRV_IP=192.0.2.1
CLI_IP=192.0.2.2
NS_SRV=kab-srv-$$
NS_CLI=kab-cli-$$

# Ends what still runs in the two namespaces (only this script's processes
# are there), then removes them.
netns_down() {
    local ns pids
    for ns in "$NS_SRV" "$NS_CLI"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            kill $pids 2>/dev/null || true
            for p in $pids; do
                while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
            done
        fi
        ip netns del "$ns" 2>/dev/null || true
    done
}

netns_up() {
    "$APT_ENSURE" nft=nftables
    trap netns_down EXIT
    ip netns add "$NS_SRV"
    ip netns add "$NS_CLI"
    ip link add "kabs$$" netns "$NS_SRV" type veth peer name "kabc$$" netns "$NS_CLI"
    in_srv ip link set lo up
    in_cli ip link set lo up
    in_srv ip addr add "$SRV_IP/24" dev "kabs$$"
    in_cli ip addr add "$CLI_IP/24" dev "kabc$$"
    in_srv ip link set "kabs$$" up
    in_cli ip link set "kabc$$" up
}

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

go_dark() {
    ip netns exec "$1" nft -f - <<'EOF'
table inet dark {
    chain in  { type filter hook input  priority 0; policy drop; }
    chain out { type filter hook output priority 0; policy drop; }
}
EOF
}
