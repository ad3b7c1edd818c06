#!/usr/bin/env bash
# apt-ensure.sh CMD=PACKAGE ...  (or just PACKAGE)
# Installs each Debian package whose command (or package) is missing.
# Runs `apt-get update` at most once per machine boot. Needs root; without it
# prints what is missing and leaves the decision to the tests (exit 0).
set -euo pipefail
missing=()
for spec in "$@"; do
    cmd=${spec%%=*}; pkg=${spec#*=}
    if [[ $spec == *=* ]]; then
        command -v "$cmd" >/dev/null 2>&1 && continue
    else
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" && continue
    fi
    missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) != 0 ]]; then
    # Not fatal: the tests that need a missing tool skip and say why; a
    # missing compiler fails loudly at its first use anyway.
    echo "apt-ensure: missing ${missing[*]}; not root, so not installing them" >&2
    exit 0
fi
stamp=/run/libkeepalive-apt-updated
if [[ ! -e $stamp ]]; then
    echo "apt-ensure: apt-get update" >&2
    apt-get update -qq >&2 && touch "$stamp"
fi
echo "apt-ensure: installing ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
