#!/usr/bin/env bash
# Python cost: keepalive.enable against 4 sock.setsockopt, keepalive.get
# against 5 sock.getsockopt, each with the target "within 0.10 of the syscall
# floor measured in the same run", with the wheel from build/wheels installed
# into a venv of its own (bench/out/venv).
#
# Usage: py.sh [ROUNDS [BATCH]]   (needs build/wheels/libkeepalive-*.whl: make build-py)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_begin py

# This machine's wheel (build/wheels also holds the aarch64 one).
wheels=("$BUILD"/wheels/libkeepalive-*_"$(uname -m)".whl)
if [[ ! -e ${wheels[0]} ]]; then
    log "not built yet: the Python wheel ($BUILD/wheels/libkeepalive-*.whl; make build-py)"
    bench_skip "Python enable vs 4 setsockopt" "<= floor + 0.10" "not built yet: the wheel"
    bench_skip "Python get vs 5 getsockopt" "<= floor + 0.10" "not built yet: the wheel"
    exit 0
fi
wheel=$(ls -t "${wheels[@]}" | head -n1) # the newest, if several versions are staged
venv=$BENCH_OUT/venv
if [[ ! -x $venv/bin/python ]]; then # Debian's python3 needs python3-venv for this
    python3 -m venv "$venv" 2>/dev/null || { "$APT_ENSURE" python3-venv && python3 -m venv "$venv"; }
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel"
log "py: $(basename "$wheel") in $venv"
rawloop=$(bench_so rawloop)
"$venv/bin/python" "$TOP/bench/py_overhead.py" "$rawloop" "$@" >"$BENCH_OUT/py.raw"
bench_rows_from "$BENCH_OUT/py.raw"
