#!/usr/bin/env bash
# The preload library and keepalive-run, end to end, on real sockets and real
# processes: the probe (probe.c) under our library and under libkeepalive 0.3
# with the same variables, warnings, errno, threads and fork, keepalive-run,
# and programs we did not write (python3, curl).
#
# usage: tests/preload/run.sh BUILD_DIR PROBE
#   BUILD_DIR  the staged prefix (lib/libkeepalive-preload.so, bin/keepalive-run)
#   PROBE      tests/preload/probe.c, compiled (with ASan+UBSan by make)
# Prints PASS/FAIL/SKIP per case and "N passed, N failed"; exits 1 on any failure.
set -uo pipefail

BUILD=$(cd "$1" && pwd)
PROBE=$2
LIB=$BUILD/lib/libkeepalive-preload.so
RUN=$BUILD/bin/keepalive-run

# Nothing from the caller's environment may leak into a case.
unset KEEPALIVE KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE_USER_TIMEOUT_MS KEEPALIVE_DEADLINE KEEPALIVE_MAX_IDLE KEEPALIVE_PROBES KEEPALIVE_ENFORCE LD_PRELOAD
# The probe is built with ASan, whose runtime then does not come first in the
# library list: our library (or 0.3) is preloaded before it, on purpose.
export ASAN_OPTIONS=verify_asan_link_order=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

passed=0 failed=0 skipped=0
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL: $1"
    shift
    (($#)) && printf '%s\n' "$@" | sed 's/^/    /'
    failed=$((failed + 1))
}
skip() { echo "SKIP: $1"; skipped=$((skipped + 1)); }

# same NAME EXPECTED_FILE ACTUAL_FILE: passes when the files are identical.
same() {
    if diff -u "$2" "$3" >"$TMP/diff"; then pass "$1"; else fail "$1" "$(cat "$TMP/diff")"; fi
}

# The probe's TCP sockets, by name; every other line must never change.
TCP_LINES='^(ipv4|ipv6|ipv4-nonblock-cloexec|ipv6-nonblock-cloexec|ipv4-ipproto-tcp|ipv6-ipproto-tcp|thread-ipv4|fork-child-ipv4) '

# expect VALUES: the bare run's output with every TCP line's values replaced by
# VALUES ("so_keepalive=1 keepidle=... user_timeout=..."), everything else as is.
expect() {
    awk -v values="$1" -v re="$TCP_LINES" '$0 ~ re { print $1 " " values; next } { print }' \
        "$TMP/bare.out"
}

# The values of the bare run's ipv4 line (the system defaults), for expectations.
bare_value() { sed -n "s/^ipv4 .*$1=\\([^ ]*\\).*/\\1/p" "$TMP/bare.out"; }

# ---------------------------------------------------------------------------
echo "== preload: $LIB"

for f in "$LIB" "$RUN" "$PROBE"; do
    [[ -e $f ]] || { fail "exists: $f"; echo "0 passed, 1 failed"; exit 1; }
done

exports=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sort | tr '\n' ' ')
if [[ $exports == "setsockopt socket " ]]; then
    pass "only socket and setsockopt are exported"
else
    fail "only socket and setsockopt are exported" "exported: $exports"
fi

# The bare probe: keepalive off everywhere, or the checks below prove nothing.
if "$PROBE" >"$TMP/bare.out" 2>"$TMP/bare.err" &&
    ! grep -E "$TCP_LINES" "$TMP/bare.out" | grep -qv 'so_keepalive=0 '; then
    pass "bare probe: every socket starts with keepalive off"
else
    fail "bare probe: every socket starts with keepalive off" "$(cat "$TMP/bare.out" "$TMP/bare.err")"
fi
IDLE0=$(bare_value keepidle) INTVL0=$(bare_value keepintvl) CNT0=$(bare_value keepcnt)

# --- our library on its own ------------------------------------------------
env KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 KEEPALIVE_USER_TIMEOUT_MS=7000 LD_PRELOAD="$LIB" \
    "$PROBE" >"$TMP/ours.out" 2>"$TMP/ours.err"
expect "so_keepalive=1 keepidle=60 keepintvl=10 keepcnt=5 user_timeout=7000" >"$TMP/want"
same "every TCP socket (IPv4, IPv6, flagged, IPPROTO_TCP, thread, forked child) gets the values; UDP, Unix and errno unchanged" \
    "$TMP/want" "$TMP/ours.out"
if [[ ! -s $TMP/ours.err ]]; then pass "valid values: nothing on stderr"; else
    fail "valid values: nothing on stderr" "$(cat "$TMP/ours.err")"; fi

env KEEPALIVE=off KEEPIDLE=60 KEEPALIVE_USER_TIMEOUT_MS=3000 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/off.out" 2>&1
expect "so_keepalive=0 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=3000" >"$TMP/want"
same "KEEPALIVE=off: keepalive and its values left alone, user timeout still applied" "$TMP/want" "$TMP/off.out"

# KEEPALIVE_DEADLINE: the core's split of the deadline on every TCP socket
# (5 s: idle 2, interval 1, count 3, user timeout 5000 ms).
env KEEPALIVE_DEADLINE=5 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=2 keepintvl=1 keepcnt=3 user_timeout=5000" >"$TMP/want"
same "KEEPALIVE_DEADLINE=5: every TCP socket gets 2/1/3 and a 5000 ms user timeout" "$TMP/want" "$TMP/dl.out"
if [[ ! -s $TMP/dl.err ]]; then pass "KEEPALIVE_DEADLINE=5: nothing on stderr"; else
    fail "KEEPALIVE_DEADLINE=5: nothing on stderr" "$(cat "$TMP/dl.err")"; fi

# Beside explicit values, the deadline wins, and one warning says so.
env KEEPALIVE_DEADLINE=60 KEEPIDLE=7 KEEPCNT=9 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=30 keepintvl=10 keepcnt=3 user_timeout=60000" >"$TMP/want"
same "KEEPALIVE_DEADLINE=60 beside KEEPIDLE and KEEPCNT: the deadline's values" "$TMP/want" "$TMP/dl.out"
rule='cannot be given with deadline: deadline sets idle, interval, count and user_timeout together'
want="libkeepalive-preload: ignoring KEEPIDLE=\"7\": idle $rule
libkeepalive-preload: ignoring KEEPCNT=\"9\": count $rule"
if [[ $(cat "$TMP/dl.err") == "$want" ]]; then pass "KEEPALIVE_DEADLINE beside KEEP*: one warning per value it excludes, naming it"; else
    fail "KEEPALIVE_DEADLINE beside KEEP*: one warning per value it excludes, naming it" "got: $(cat "$TMP/dl.err")" "want: $want"; fi

# KEEPALIVE_MAX_IDLE shapes the deadline's split (60 s through a 20 s
# middlebox: 14/2/23); one the deadline cannot keep warns, naming both, and
# the deadline applies as it is.
env KEEPALIVE_DEADLINE=60 KEEPALIVE_MAX_IDLE=20 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=14 keepintvl=2 keepcnt=23 user_timeout=60000" >"$TMP/want"
same "KEEPALIVE_DEADLINE=60 KEEPALIVE_MAX_IDLE=20: 14/2/23, 60000 ms" "$TMP/want" "$TMP/dl.out"
if [[ ! -s $TMP/dl.err ]]; then pass "KEEPALIVE_MAX_IDLE=20: nothing on stderr"; else
    fail "KEEPALIVE_MAX_IDLE=20: nothing on stderr" "$(cat "$TMP/dl.err")"; fi
env KEEPALIVE_DEADLINE=100000 KEEPALIVE_MAX_IDLE=60 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=32767 keepintvl=22411 keepcnt=3 user_timeout=100000000" >"$TMP/want"
same "KEEPALIVE_MAX_IDLE the deadline cannot keep: the plain deadline" "$TMP/want" "$TMP/dl.out"
want='libkeepalive-preload: ignoring KEEPALIVE_MAX_IDLE="60": max_idle must be at least'
if [[ $(cat "$TMP/dl.err") == "$want"* && $(cat "$TMP/dl.err") == *"with deadline 100000 seconds"* ]]; then
    pass "KEEPALIVE_MAX_IDLE=60 with a 100000 s deadline: one warning naming both"; else
    fail "KEEPALIVE_MAX_IDLE=60 with a 100000 s deadline: one warning naming both" "got: $(cat "$TMP/dl.err")"; fi

# KEEPALIVE_PROBES: how many probes the deadline spends (60 s in 5: 30/6/5);
# without a deadline it is ignored, with the core's warning.
env KEEPALIVE_DEADLINE=60 KEEPALIVE_PROBES=5 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=30 keepintvl=6 keepcnt=5 user_timeout=60000" >"$TMP/want"
same "KEEPALIVE_DEADLINE=60 KEEPALIVE_PROBES=5: 30/6/5, 60000 ms" "$TMP/want" "$TMP/dl.out"
env KEEPALIVE_PROBES=5 KEEPIDLE=60 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=60 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0" >"$TMP/want"
want='libkeepalive-preload: ignoring KEEPALIVE_PROBES="5": probes goes with deadline: give deadline too'
if diff -u "$TMP/want" "$TMP/dl.out" >"$TMP/diff" && [[ $(cat "$TMP/dl.err") == "$want" ]]; then
    pass "KEEPALIVE_PROBES without a deadline: ignored with one warning, KEEPIDLE applies"; else
    fail "KEEPALIVE_PROBES without a deadline: ignored with one warning, KEEPIDLE applies" \
        "got: $(cat "$TMP/dl.err")" "want: $want" "$(cat "$TMP/diff")"; fi

# An invalid deadline: one warning with the range, and the other values apply.
env KEEPALIVE_DEADLINE=1 KEEPIDLE=60 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/dl.out" 2>"$TMP/dl.err"
expect "so_keepalive=1 keepidle=60 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0" >"$TMP/want"
same "KEEPALIVE_DEADLINE=1 (invalid) beside KEEPIDLE=60: idle 60 applies" "$TMP/want" "$TMP/dl.out"
want='libkeepalive-preload: ignoring KEEPALIVE_DEADLINE="1": deadline must be 2..131068 seconds, got 1'
if [[ $(cat "$TMP/dl.err") == "$want" ]]; then pass "KEEPALIVE_DEADLINE=1: one warning with the range"; else
    fail "KEEPALIVE_DEADLINE=1: one warning with the range" "got: $(cat "$TMP/dl.err")"; fi

# MPTCP (IPPROTO_MPTCP, 262): configured like TCP (libkeepalive 0.3 does it
# too). The kernel refuses TCP_USER_TIMEOUT on MPTCP sockets (get EOPNOTSUPP,
# set ENOPROTOOPT): asked for, it is skipped, and keepalive still applies.
env KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 KEEPALIVE_USER_TIMEOUT_MS=7000 LD_PRELOAD="$LIB" \
    "$PROBE" mptcp >"$TMP/mptcp.out" 2>"$TMP/mptcp.err"
rc=$?
if [[ $rc == 3 ]]; then
    skip "MPTCP sockets: this kernel has none ($(cat "$TMP/mptcp.out"))"
elif [[ $rc == 0 ]] &&
    grep -q '^mptcp4 so_keepalive=1 keepidle=60 keepintvl=10 keepcnt=5 user_timeout=' "$TMP/mptcp.out" &&
    grep -q '^mptcp6-nonblock so_keepalive=1 keepidle=60 keepintvl=10 keepcnt=5 user_timeout=' "$TMP/mptcp.out" &&
    [[ ! -s $TMP/mptcp.err ]]; then
    pass "MPTCP sockets (IPv4, IPv6 non-blocking) get the values, read back (user timeout refused by the kernel)"
else
    fail "MPTCP sockets (IPv4, IPv6 non-blocking) get the values, read back" \
        "exit $rc" "$(cat "$TMP/mptcp.out" "$TMP/mptcp.err")"
fi

# A deadline on MPTCP: the keepalive part applies, the user timeout (which
# MPTCP lacks) is skipped.
env KEEPALIVE_DEADLINE=5 LD_PRELOAD="$LIB" "$PROBE" mptcp >"$TMP/mptcp.out" 2>"$TMP/mptcp.err"
rc=$?
if [[ $rc == 3 ]]; then
    skip "MPTCP sockets under KEEPALIVE_DEADLINE: this kernel has none"
elif [[ $rc == 0 ]] && grep -q '^mptcp4 so_keepalive=1 keepidle=2 keepintvl=1 keepcnt=3 ' "$TMP/mptcp.out"; then
    pass "MPTCP sockets under KEEPALIVE_DEADLINE=5: keepalive 2/1/3 (no user timeout on MPTCP)"
else
    fail "MPTCP sockets under KEEPALIVE_DEADLINE=5: keepalive 2/1/3" "exit $rc" "$(cat "$TMP/mptcp.out" "$TMP/mptcp.err")"
fi

# --- side by side with libkeepalive 0.3 -------------------------------------
OLD=$(dpkg -L libkeepalive0 2>/dev/null | grep -E '/libkeepalive\.so\.0$' | head -n1)
if [[ -z $OLD || ! -e $OLD ]]; then
    if [[ ${CI:-} == true ]]; then
        fail "libkeepalive 0.3 (Debian libkeepalive0) is installed" "make test-preload installs it"
    else
        skip "comparison with libkeepalive 0.3: Debian package libkeepalive0 not installed (needs root to install)"
    fi
else
    echo "== side by side with libkeepalive 0.3: $OLD"
    # VARS|STRIP_ERRNO: the same variables for both; with STRIP_ERRNO=1 the
    # errno-kept lines are left out of the comparison, because 0.3 lets a
    # refused setsockopt's EINVAL leak into errno (checked separately below).
    while IFS='|' read -r vars strip_errno; do
        # shellcheck disable=SC2086 # $vars is a list of NAME=VALUE words
        env $vars LD_PRELOAD="$OLD" "$PROBE" 2>/dev/null | sed 's/ user_timeout=[^ ]*//' >"$TMP/old.cmp"
        # shellcheck disable=SC2086
        env $vars LD_PRELOAD="$LIB" "$PROBE" 2>/dev/null | sed 's/ user_timeout=[^ ]*//' >"$TMP/new.cmp"
        if [[ $strip_errno == 1 ]]; then
            sed -i '/^errno-kept/d' "$TMP/old.cmp" "$TMP/new.cmp"
        fi
        same "same settings as 0.3 on every socket with: ${vars:-no variable}" "$TMP/old.cmp" "$TMP/new.cmp"
        # shellcheck disable=SC2086
        env $vars LD_PRELOAD="$OLD" "$PROBE" mptcp 2>/dev/null | sed 's/ user_timeout=[^ ]*//' >"$TMP/old.cmp"
        # shellcheck disable=SC2086
        env $vars LD_PRELOAD="$LIB" "$PROBE" mptcp 2>/dev/null | sed 's/ user_timeout=[^ ]*//' >"$TMP/new.cmp"
        # Only with valid values: the kernel's MPTCP takes out-of-range ones
        # (KEEPCNT=-4 reads back -4) and 0.3 applies them; we refuse them.
        if [[ $strip_errno == 0 ]] && ! grep -q unsupported "$TMP/old.cmp"; then
            same "same settings as 0.3 on MPTCP sockets with: ${vars:-no variable}" "$TMP/old.cmp" "$TMP/new.cmp"
        fi
    done <<'EOF'
KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5|0
KEEPIDLE=45|0
KEEPINTVL=3 KEEPCNT=2|0
|0
KEEPALIVE=on KEEPIDLE=20|0
KEEPALIVE=off KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5|0
KEEPALIVE=OFF KEEPCNT=3|0
KEEPALIVE=Off|0
KEEPIDLE=32767 KEEPINTVL=1 KEEPCNT=127|0
KEEPIDLE=0 KEEPINTVL=40000 KEEPCNT=300|1
KEEPIDLE=abc KEEPCNT=-4 KEEPINTVL=12|1
EOF
    # Where we differ on purpose, show it: 0.3 reads "10x" as 10 (atoi) and
    # leaks EINVAL into errno; we warn, ignore the value, and keep errno.
    env KEEPIDLE=10x KEEPCNT=300 LD_PRELOAD="$OLD" "$PROBE" >"$TMP/old.out" 2>&1
    env KEEPIDLE=10x KEEPCNT=300 LD_PRELOAD="$LIB" "$PROBE" >"$TMP/new.out" 2>"$TMP/new.err"
    if grep -q '^ipv4 so_keepalive=1 keepidle=10 ' "$TMP/old.out" &&
        grep -q '^errno-kept-ipv4 rc=fd errno=EINVAL$' "$TMP/old.out" &&
        grep -q "^ipv4 so_keepalive=1 keepidle=$IDLE0 " "$TMP/new.out" &&
        grep -q '^errno-kept-ipv4 rc=fd errno=EINTR$' "$TMP/new.out" &&
        [[ $(wc -l <"$TMP/new.err") == 2 ]]; then
        pass "KEEPIDLE=10x KEEPCNT=300: 0.3 applies 10 and clobbers errno; we warn, ignore, keep errno"
    else
        fail "KEEPIDLE=10x KEEPCNT=300: 0.3 applies 10 and clobbers errno; we warn, ignore, keep errno" \
            "0.3:" "$(cat "$TMP/old.out")" "ours:" "$(cat "$TMP/new.out" "$TMP/new.err")"
    fi
fi

# --- warnings ----------------------------------------------------------------
env KEEPALIVE=maybe KEEPIDLE=abc KEEPINTVL=40000 KEEPCNT=0 KEEPALIVE_USER_TIMEOUT_MS=-1 \
    LD_PRELOAD="$LIB" "$PROBE" >"$TMP/bad.out" 2>"$TMP/bad.err"
expect "so_keepalive=1 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0" >"$TMP/want"
same "invalid values are ignored; keepalive still on; errno unchanged" "$TMP/want" "$TMP/bad.out"
warning_ok=1
for pair in 'KEEPALIVE=:on or off' 'KEEPIDLE=:1..32767 seconds' 'KEEPINTVL=:1..32767 seconds' \
    'KEEPCNT=:1..127 probes' 'KEEPALIVE_USER_TIMEOUT_MS=:0..2147483647 milliseconds'; do
    name=${pair%%:*} range=${pair#*:}
    n=$(grep -c "ignoring $name\"" "$TMP/bad.err")
    if [[ $n != 1 ]] || ! grep "ignoring $name\"" "$TMP/bad.err" | grep -qF "$range"; then
        warning_ok=0
    fi
done
if ((warning_ok)) && [[ $(wc -l <"$TMP/bad.err") == 5 ]]; then
    pass "one warning line per invalid variable, naming it and its range, across threads and fork"
else
    fail "one warning line per invalid variable, naming it and its range, across threads and fork" \
        "$(cat "$TMP/bad.err")"
fi

race_ok=1
for round in $(seq 10); do
    env KEEPIDLE=61 KEEPCNT=x KEEPALIVE_USER_TIMEOUT_MS=1.5 LD_PRELOAD="$LIB" "$PROBE" race 16 \
        >"$TMP/race.out" 2>"$TMP/race.err"
    lines=$(grep -c "^race-ipv4 so_keepalive=1 keepidle=61 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0$" "$TMP/race.out")
    if [[ $lines != 16 || $(wc -l <"$TMP/race.err") != 2 ]]; then
        race_ok=0
        break
    fi
done
if ((race_ok)); then
    pass "16 threads racing on the first socket(): all configured, still one warning per variable (10 rounds)"
else
    fail "16 threads racing on the first socket() (round $round)" "$(cat "$TMP/race.out" "$TMP/race.err")"
fi

# The environment is read and checked when the library is loaded: the
# warning comes then, even from a process that never creates a socket.
if out=$(env KEEPIDLE=abc LD_PRELOAD="$LIB" sh -c 'exit 0' 2>&1) &&
    [[ $out == 'libkeepalive-preload: ignoring KEEPIDLE="abc": idle must be 1..32767 seconds, got "abc"' ]]; then
    pass "the warning is written when the library is loaded (a process with no socket at all)"
else
    fail "the warning is written when the library is loaded (a process with no socket at all)" "$out"
fi

# One program tree, one warning: shells starting shells (each loading the
# library, as a wrapper script or pyenv's shims do) print it once; a child
# whose environment adds another invalid value warns again, about both; a
# forged mark is no mark.
tree=$(env KEEPIDLE=abc LD_PRELOAD="$LIB" sh -c 'sh -c "sh -c true; sh -c true"; sh -c true' 2>&1)
more=$(env KEEPIDLE=abc LD_PRELOAD="$LIB" sh -c 'KEEPCNT=0 sh -c "sh -c true"' 2>&1)
forged=$(env KEEPIDLE=abc KEEPALIVE_PRELOAD_WARNED=0123456789abcdef LD_PRELOAD="$LIB" sh -c true 2>&1)
if [[ $tree == 'libkeepalive-preload: ignoring KEEPIDLE="abc": idle must be 1..32767 seconds, got "abc"' &&
    $(grep -c 'KEEPIDLE="abc"' <<<"$more") == 2 && $(grep -c 'KEEPCNT="0"' <<<"$more") == 1 &&
    $forged == "$tree" ]]; then
    pass "one warning per program tree (6 processes: 1 line); new invalid values warn again"
else
    fail "one warning per program tree (6 processes: 1 line); new invalid values warn again" \
        "tree:" "$tree" "more:" "$more" "forged:" "$forged"
fi

# KEEPALIVE=yes (0.3 takes anything but off as on): one warning at load, on
# a file and on a terminal, and keepalive on.
env KEEPALIVE=yes LD_PRELOAD="$LIB" "$PROBE" >"$TMP/yes.out" 2>"$TMP/yes.err"
env KEEPALIVE=yes LD_PRELOAD="$LIB" sh -c 'exit 0' 2>"$TMP/yes-nosocket.err"
expect "so_keepalive=1 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0" >"$TMP/want"
yes_warning='libkeepalive-preload: ignoring KEEPALIVE="yes": KEEPALIVE must be on or off; keepalive stays on'
if diff -u "$TMP/want" "$TMP/yes.out" >"$TMP/diff" &&
    [[ $(cat "$TMP/yes.err") == "$yes_warning" && $(cat "$TMP/yes-nosocket.err") == "$yes_warning" ]]; then
    pass "KEEPALIVE=yes: one warning on a file stderr, at load (also with no socket), keepalive on"
else
    fail "KEEPALIVE=yes: one warning on a file stderr, at load (also with no socket), keepalive on" \
        "$(cat "$TMP/diff" "$TMP/yes.err" "$TMP/yes-nosocket.err")"
fi

# stderr_as KIND -- COMMAND...: runs COMMAND with its stderr a terminal (pty),
# a pipe whose reader is gone (broken-pipe) or a connected socket (socket);
# prints COMMAND's stdout, "status=N" (negative: killed by signal -N), and
# what reached the other end of stderr as "other-end=b'...'".
cat >"$TMP/stderr_as.py" <<'PYTHON'
import os, pty, select, socket, subprocess, sys
kind, argv = sys.argv[1], sys.argv[3:]
if kind == "pty":
    ours, theirs = pty.openpty()
elif kind == "broken-pipe":
    reader, theirs = os.pipe()
    os.close(reader)
    ours = None
else:
    a, b = socket.socketpair()
    ours, theirs = a.detach(), b.detach()
# subprocess gives the child SIGPIPE's default action back (restore_signals).
done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=theirs, timeout=60)
os.close(theirs)
got = b""
if ours is not None:
    os.set_blocking(ours, False)
    while select.select([ours], [], [], 0.2)[0]:
        try:
            chunk = os.read(ours, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
sys.stdout.write(done.stdout.decode())
print("status=%d" % done.returncode)
print("other-end=%r" % got)
PYTHON
stderr_as() { python3 "$TMP/stderr_as.py" "$@"; }

got=$(stderr_as pty -- env KEEPALIVE=yes LD_PRELOAD="$LIB" "$PROBE")
if [[ $(grep -c '^ipv4 so_keepalive=1 ' <<<"$got") == 1 && $got == *"status=0"* ]] &&
    [[ $(grep -o 'ignoring KEEPALIVE="yes"' <<<"$got" | wc -l) == 1 ]]; then
    pass "KEEPALIVE=yes: one warning on a terminal stderr, keepalive on"
else
    fail "KEEPALIVE=yes: one warning on a terminal stderr, keepalive on" "$got"
fi

# warned_once NAME MODE LINE: runs the probe in MODE under KEEPIDLE=abc;
# passes when it exits 0, prints a line matching LINE (a grep pattern) and
# warned exactly once.
warned_once() {
    env KEEPIDLE=abc LD_PRELOAD="$LIB" "$PROBE" "$2" >"$TMP/$2.out" 2>"$TMP/$2.err"
    local rc=$?
    if [[ $rc == 0 ]] && grep -q "$3" "$TMP/$2.out" &&
        [[ $(grep -c 'ignoring KEEPIDLE=' "$TMP/$2.err") == 1 ]]; then
        pass "$1"
    else
        fail "$1" "exit $rc" "$(cat "$TMP/$2.out" "$TMP/$2.err")"
    fi
}

# stderr closed: the first TCP socket gets descriptor 2. A warning written
# inside socket() went into that socket and raised SIGPIPE (status 141).
warned_once "close(2); socket() under KEEPIDLE=abc: the socket is fd 2, no SIGPIPE, warned once at load" \
    close-stderr "^closed-stderr-ipv4 fd=2 so_keepalive=1 keepidle=$IDLE0 "
env KEEPIDLE=abc LD_PRELOAD="$LIB" "$PROBE" >"$TMP/closed.out" 2>&-
rc=$?
expect "so_keepalive=1 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0" >"$TMP/want"
if [[ $rc == 0 ]] && diff -u "$TMP/want" "$TMP/closed.out" >"$TMP/diff"; then
    pass "stderr closed from the start under KEEPIDLE=abc: every socket configured, no SIGPIPE"
else
    fail "stderr closed from the start under KEEPIDLE=abc: every socket configured, no SIGPIPE" \
        "exit $rc" "$(cat "$TMP/diff")"
fi

got=$(stderr_as broken-pipe -- env KEEPIDLE=abc KEEPCNT=0 LD_PRELOAD="$LIB" "$PROBE")
if [[ $got == *"status=0"* ]] && grep -q "^ipv4 so_keepalive=1 keepidle=$IDLE0 " <<<"$got"; then
    pass "stderr a pipe whose reader is gone: no SIGPIPE death, sockets configured"
else
    fail "stderr a pipe whose reader is gone: no SIGPIPE death, sockets configured" "$got"
fi

got=$(stderr_as socket -- env KEEPIDLE=abc KEEPCNT=0 LD_PRELOAD="$LIB" "$PROBE")
if [[ $got == *"status=0"* && $got == *"other-end=b''"* ]] &&
    grep -q "^ipv4 so_keepalive=1 keepidle=$IDLE0 " <<<"$got"; then
    pass "stderr a connected socket (inetd style): nothing written to the peer"
else
    fail "stderr a connected socket (inetd style): nothing written to the peer" "$got"
fi

# A deferred pthread_cancel pending: socket() is no cancellation point, so
# the thread gets its descriptor (configured) and is cancelled after it.
warned_once "pending pthread_cancel: socket() returns its fd (none leaked), cancelled only after it" \
    cancel '^cancel returned=yes leaked=no cancelled=yes so_keepalive=1 '

# socket() itself writes nothing and waits for nothing: from the first TCP
# socket() on, strace sees no write, poll or sigtimedwait (bad values set, so
# a warning would be due if socket() were where it is written).
if command -v strace >/dev/null; then
    # (LeakSanitizer cannot work under ptrace: off for this run.)
    ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 strace -f -qq -o "$TMP/sock.trace" \
        -e trace=socket,write,writev,poll,rt_sigtimedwait \
        env KEEPIDLE=abc LD_PRELOAD="$LIB" "$PROBE" >/dev/null 2>"$TMP/sock.err"
    after=$(sed -n '/socket(AF_INET, SOCK_STREAM/,$p' "$TMP/sock.trace" |
        grep -E ' (write|writev|poll|rt_sigtimedwait)\(' | grep -v ' write(1, ' || true)
    if grep -q 'socket(AF_INET, SOCK_STREAM' "$TMP/sock.trace" && [[ -z $after ]] &&
        [[ $(grep -c 'ignoring KEEPIDLE=' "$TMP/sock.err") == 1 ]]; then
        pass "strace: from the first TCP socket() on, no write to stderr, no poll, no sigtimedwait"
    else
        fail "strace: from the first TCP socket() on, no write to stderr, no poll, no sigtimedwait" \
            "$after" "$(head -40 "$TMP/sock.trace")"
    fi
else
    skip "strace: not installed"
fi

# --- keepalive-run -------------------------------------------------------------
echo "== keepalive-run: $RUN"
"$RUN" -d 60 -i 10 -c 5 -u 7000 -- "$PROBE" >"$TMP/run.out" 2>&1
expect "so_keepalive=1 keepidle=60 keepintvl=10 keepcnt=5 user_timeout=7000" >"$TMP/want"
same "keepalive-run -d 60 -i 10 -c 5 -u 7000: every TCP socket gets the values" "$TMP/want" "$TMP/run.out"

"$RUN" -u 2500 -- "$PROBE" >"$TMP/run.out" 2>&1
expect "so_keepalive=1 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=2500" >"$TMP/want"
same "keepalive-run -u 2500: keepalive on with the defaults, user timeout set" "$TMP/want" "$TMP/run.out"

"$RUN" -- sh -c 'exit 42'
rc=$?
if [[ $rc == 42 ]]; then pass "exit status is the program's (42)"; else fail "exit status is the program's (42)" "got $rc"; fi

# In the background, so that this shell does not report the signal itself.
"$RUN" -- sh -c 'kill -TERM $$' &
wait $!
rc=$?
if [[ $rc == 143 ]]; then pass "death by signal is the program's (SIGTERM -> 143)"; else
    fail "death by signal is the program's (SIGTERM -> 143)" "got $rc"; fi

pids=$(sh -c 'echo $$; exec "$0" -- sh -c "echo \$\$"' "$RUN")
if [[ $(echo "$pids" | sort -u | wc -l) == 1 && $(echo "$pids" | wc -l) == 2 ]]; then
    pass "the program replaces keepalive-run (same pid)"
else
    fail "the program replaces keepalive-run (same pid)" "$pids"
fi

while IFS='|' read -r args message; do
    rm -f "$TMP/ran"
    # shellcheck disable=SC2086
    "$RUN" $args touch "$TMP/ran" >"$TMP/usage.out" 2>"$TMP/usage.err"
    rc=$?
    if [[ $rc == 2 && ! -e $TMP/ran ]] && grep -q '^usage: keepalive-run' "$TMP/usage.err" &&
        grep -qF -- "$message" "$TMP/usage.err"; then
        pass "bad arguments '$args': exit 2, usage, '$message'"
    else
        fail "bad arguments '$args': exit 2, usage, '$message'" "exit $rc" "$(cat "$TMP/usage.err")"
    fi
done <<'EOF'
-d 0 --|idle must be 1..32767 seconds, got 0
-d 40000 --|idle must be 1..32767 seconds, got 40000
-i -1 --|interval must be 1..32767 seconds, got -1
-c 128 --|count must be 1..127 probes, got 128
-u -5 --|user_timeout must be 0..2147483647 milliseconds, got -5
-u 2147483648 --|user_timeout must be 0..2147483647 milliseconds, got 2147483648
-d ten --|-d: idle must be 1..32767 seconds, got "ten"
-u 99999999999999999999 --|user_timeout must be 0..2147483647 milliseconds, got 99999999999999999999
-d 99999999999999999999 --|idle must be 1..32767 seconds, got 99999999999999999999
-c -99999999999999999999 --|count must be 1..127 probes, got -99999999999999999999
-x --|invalid option '-x'
EOF
"$RUN" >/dev/null 2>"$TMP/usage.err"
rc=$?
if [[ $rc == 2 ]] && grep -q 'missing PROGRAM' "$TMP/usage.err"; then pass "no program: exit 2, usage"; else
    fail "no program: exit 2, usage" "exit $rc" "$(cat "$TMP/usage.err")"; fi

if "$RUN" --help >"$TMP/help.out" && grep -q '^usage: keepalive-run' "$TMP/help.out" &&
    grep -q -- '--user-timeout' "$TMP/help.out"; then
    pass "--help: usage on stdout, exit 0"
else
    fail "--help: usage on stdout, exit 0"
fi

"$RUN" -- "$TMP/no-such-program" 2>"$TMP/err.out"
rc=$?
if [[ $rc == 127 ]] && grep -q 'no-such-program' "$TMP/err.out"; then pass "missing program: message, exit 127"; else
    fail "missing program: message, exit 127" "exit $rc" "$(cat "$TMP/err.out")"; fi

echo 'not a program' >"$TMP/not-executable"
chmod -x "$TMP/not-executable"
"$RUN" -- "$TMP/not-executable" 2>"$TMP/err.out"
rc=$?
if [[ $rc == 126 ]] && grep -q 'not-executable' "$TMP/err.out"; then pass "program not executable: message, exit 126"; else
    fail "program not executable: message, exit 126" "exit $rc" "$(cat "$TMP/err.out")"; fi

# An existing LD_PRELOAD is kept, ours appended, and both libraries load.
printf 'int keepalive_run_test_marker;\n' | gcc -shared -fPIC -x c - -o "$TMP/other.so"
libpath=$(realpath "$LIB")
got=$(LD_PRELOAD="$TMP/other.so" "$RUN" -- sh -c 'printf %s "$LD_PRELOAD"')
if [[ $got == "$TMP/other.so $libpath" ]]; then pass "LD_PRELOAD appended to: $got"; else
    fail "LD_PRELOAD appended to" "got '$got'"; fi
got=$(LD_PRELOAD="$TMP/other.so:$TMP/other.so" "$RUN" -- sh -c 'printf %s "$LD_PRELOAD"')
if [[ $got == "$TMP/other.so:$TMP/other.so:$libpath" ]]; then pass "colon-separated LD_PRELOAD keeps colons"; else
    fail "colon-separated LD_PRELOAD keeps colons" "got '$got'"; fi
LD_PRELOAD="$TMP/other.so" "$RUN" -d 33 -- "$PROBE" >"$TMP/run.out" 2>&1
if grep -q '^ipv4 so_keepalive=1 keepidle=33 ' "$TMP/run.out"; then pass "with another preloaded library, keepalive still applies"; else
    fail "with another preloaded library, keepalive still applies" "$(cat "$TMP/run.out")"; fi

# Relocatable: found relative to itself; missing library is a clear error.
mkdir -p "$TMP/moved/bin" "$TMP/moved/lib" "$TMP/alone/bin"
cp "$RUN" "$TMP/moved/bin/" && cp "$LIB" "$TMP/moved/lib/" && cp "$RUN" "$TMP/alone/bin/"
"$TMP/moved/bin/keepalive-run" -d 34 -- "$PROBE" >"$TMP/run.out" 2>&1
if grep -q '^ipv4 so_keepalive=1 keepidle=34 ' "$TMP/run.out"; then pass "a moved prefix finds its own ../lib library"; else
    fail "a moved prefix finds its own ../lib library" "$(cat "$TMP/run.out")"; fi
"$TMP/alone/bin/keepalive-run" -d 34 -- true 2>"$TMP/err.out"
rc=$?
if [[ $rc == 125 ]] && grep -q "$TMP/alone/lib/libkeepalive-preload.so" "$TMP/err.out"; then
    pass "library missing: names the path it looked at, exit 125"
else
    fail "library missing: names the path it looked at, exit 125" "exit $rc" "$(cat "$TMP/err.out")"
fi

# Help and version into a stdout that cannot take them: never a panic
# (exit 101), and a usage error into a broken stderr is still exit 2.
# to_broken_pipe FD COMMAND...: runs COMMAND with descriptor FD (1 or 2) a
# pipe whose reader is gone; prints "status=N" and COMMAND's other output.
to_broken_pipe() {
    python3 -c '
import os, subprocess, sys
fd, argv = int(sys.argv[1]), sys.argv[2:]
r, w = os.pipe()
os.close(r)
other = subprocess.PIPE
done = subprocess.run(argv, stderr=other if fd == 1 else w, stdout=w if fd == 1 else other)
print("status=%d" % done.returncode)
sys.stdout.write((done.stderr if fd == 1 else done.stdout).decode())
' "$@"
}
broken_ok=1 broken_log=
for args in --help -V; do
    got=$(to_broken_pipe 1 "$RUN" $args)
    [[ $got == "status=0" ]] || { broken_ok=0; broken_log+="$args into a broken pipe: $got"$'\n'; }
    "$RUN" $args >&- 2>"$TMP/closed.err"
    rc=$?
    [[ ($rc == 0 || $rc == 1) && ! -s $TMP/closed.err ]] ||
        { broken_ok=0; broken_log+="$args >&-: exit $rc $(cat "$TMP/closed.err")"$'\n'; }
done
got=$(to_broken_pipe 2 "$RUN" -d 0 -- true)
[[ $got == "status=2" ]] || { broken_ok=0; broken_log+="usage error into a broken stderr: $got"; }
if ((broken_ok)); then
    pass "--help/-V into a broken pipe or a closed stdout, usage into a broken stderr: no panic, exit 0/1/2"
else
    fail "--help/-V into a broken pipe or a closed stdout, usage into a broken stderr: no panic, exit 0/1/2" "$broken_log"
fi

# Options win over the same variables inherited from the environment, an
# inherited KEEPALIVE=off included (it silently turned everything off).
env KEEPALIVE=off KEEPIDLE=99 "$RUN" -d 60 -- "$PROBE" >"$TMP/run.out" 2>&1
if grep -q '^ipv4 so_keepalive=1 keepidle=60 ' "$TMP/run.out"; then
    pass "inherited KEEPALIVE=off KEEPIDLE=99 with -d 60: keepalive on, idle 60"
else
    fail "inherited KEEPALIVE=off KEEPIDLE=99 with -d 60: keepalive on, idle 60" "$(cat "$TMP/run.out")"
fi

# -D: the deadline, replacing inherited values (no warning about them), and
# -d replacing an inherited deadline (which would otherwise win over it).
env KEEPIDLE=99 KEEPALIVE_USER_TIMEOUT_MS=1 "$RUN" -D 5 -- "$PROBE" >"$TMP/run.out" 2>"$TMP/run.err"
expect "so_keepalive=1 keepidle=2 keepintvl=1 keepcnt=3 user_timeout=5000" >"$TMP/want"
same "keepalive-run -D 5 (KEEPIDLE=99 inherited): the deadline's values" "$TMP/want" "$TMP/run.out"
if [[ ! -s $TMP/run.err ]]; then pass "keepalive-run -D 5: nothing on stderr"; else
    fail "keepalive-run -D 5: nothing on stderr" "$(cat "$TMP/run.err")"; fi
env KEEPALIVE_DEADLINE=5 "$RUN" -d 60 -- "$PROBE" >"$TMP/run.out" 2>&1
if grep -q '^ipv4 so_keepalive=1 keepidle=60 keepintvl='"$INTVL0"' keepcnt='"$CNT0"' user_timeout=0$' "$TMP/run.out"; then
    pass "inherited KEEPALIVE_DEADLINE=5 with -d 60: idle 60, no deadline"
else
    fail "inherited KEEPALIVE_DEADLINE=5 with -d 60: idle 60, no deadline" "$(cat "$TMP/run.out")"
fi
for args in "-D 1" "-D 5 -d 2" "-D x"; do
    # shellcheck disable=SC2086
    "$RUN" $args -- touch "$TMP/ran" >/dev/null 2>"$TMP/usage.err"
    rc=$?
    if [[ $rc == 2 && ! -e $TMP/ran ]] && grep -q '^usage: keepalive-run' "$TMP/usage.err"; then
        pass "keepalive-run $args: usage error, exit 2, nothing run"
    else
        fail "keepalive-run $args: usage error, exit 2, nothing run" "exit $rc" "$(cat "$TMP/usage.err")"
    fi
    rm -f "$TMP/ran"
done

# --- the program's own keepalive calls (KEEPALIVE_ENFORCE, --enforce) --------
# `probe own` sets SO_KEEPALIVE 1, idle 60, interval 60, count 9, user timeout
# 0 itself (as curl and redis-cli do), SO_KEEPALIVE 0 on another socket, and
# calls that are not keepalive's or not on TCP.
OWN_VALUES="so_keepalive=1 keepidle=60 keepintvl=60 keepcnt=9 user_timeout=0"
own_rest() {
    printf '%s\n' 'own-errno errno=EINTR' 'own-short rc=EINVAL' 'own-nodelay rc=0 tcp_nodelay=1'
}
{
    echo "own-tcp rc=0 $OWN_VALUES"
    own_rest
    echo "own-off rc=0 so_keepalive=0 keepidle=2 keepintvl=1 keepcnt=3 user_timeout=5000"
    echo "own-unix rc=0 so_keepalive=0"
} >"$TMP/want-own"
env KEEPALIVE_DEADLINE=5 LD_PRELOAD="$LIB" "$PROBE" own >"$TMP/own.out" 2>"$TMP/own.err"
same "KEEPALIVE_ENFORCE unset: the program's own keepalive calls win (as with 0.3)" "$TMP/want-own" "$TMP/own.out"
if [[ ! -s $TMP/own.err ]]; then pass "KEEPALIVE_ENFORCE unset: nothing on stderr"; else
    fail "KEEPALIVE_ENFORCE unset: nothing on stderr" "$(cat "$TMP/own.err")"; fi

"$RUN" -D 5 -- "$PROBE" own >"$TMP/own.out" 2>"$TMP/own.err"
same "keepalive-run -D 5 (no --enforce): the program's own calls win" "$TMP/want-own" "$TMP/own.out"
told_ok=1
for said in "TCP_KEEPIDLE=60 itself, overriding the configured 2" \
    "TCP_KEEPINTVL=60 itself, overriding the configured 1" "TCP_KEEPCNT=9 itself, overriding the configured 3" \
    "TCP_USER_TIMEOUT=0 itself, overriding the configured 5000" "SO_KEEPALIVE=0 itself, overriding the configured 1"; do
    [[ $(grep -cF "libkeepalive-preload: the program set $said (keepalive-run --enforce" "$TMP/own.err") == 1 ]] || told_ok=0
done
if ((told_ok)) && [[ $(wc -l <"$TMP/own.err") == 5 ]]; then
    pass "keepalive-run without --enforce names each of the program's own calls that won, once"
else
    fail "keepalive-run without --enforce names each of the program's own calls that won, once" "$(cat "$TMP/own.err")"
fi

{
    echo "own-tcp rc=0 so_keepalive=1 keepidle=2 keepintvl=1 keepcnt=3 user_timeout=5000"
    own_rest
    echo "own-off rc=0 so_keepalive=1 keepidle=2 keepintvl=1 keepcnt=3 user_timeout=5000"
    echo "own-unix rc=0 so_keepalive=0"
} >"$TMP/want"
"$RUN" -D 5 --enforce -- "$PROBE" own >"$TMP/own.out" 2>"$TMP/own.err"
same "keepalive-run -D 5 --enforce: the program's own keepalive calls get 2/1/3/5000 and SO_KEEPALIVE stays on; short optlen, TCP_NODELAY, Unix sockets and errno untouched" \
    "$TMP/want" "$TMP/own.out"
if [[ ! -s $TMP/own.err ]]; then pass "keepalive-run --enforce: nothing on stderr"; else
    fail "keepalive-run --enforce: nothing on stderr" "$(cat "$TMP/own.err")"; fi
env KEEPALIVE_ENFORCE=1 KEEPIDLE=45 LD_PRELOAD="$LIB" "$PROBE" own >"$TMP/own.out" 2>&1
if grep -q "^own-tcp rc=0 so_keepalive=1 keepidle=45 keepintvl=60 keepcnt=9 user_timeout=0$" "$TMP/own.out"; then
    pass "KEEPALIVE_ENFORCE=1 KEEPIDLE=45: only the configured value is enforced, the others are the program's"
else
    fail "KEEPALIVE_ENFORCE=1 KEEPIDLE=45: only the configured value is enforced" "$(cat "$TMP/own.out")"
fi
env KEEPALIVE_ENFORCE=yes KEEPALIVE_DEADLINE=5 LD_PRELOAD="$LIB" "$PROBE" own >"$TMP/own.out" 2>"$TMP/own.err"
if grep -q "^own-tcp rc=0 $OWN_VALUES$" "$TMP/own.out" &&
    [[ $(cat "$TMP/own.err") == 'libkeepalive-preload: ignoring KEEPALIVE_ENFORCE="yes": KEEPALIVE_ENFORCE must be 1 or 0; the program'"'"'s own keepalive calls win' ]]; then
    pass "KEEPALIVE_ENFORCE=yes: one warning, not enforced"
else
    fail "KEEPALIVE_ENFORCE=yes: one warning, not enforced" "$(cat "$TMP/own.out" "$TMP/own.err")"
fi

# A library that exists but cannot be loaded: the loader would print a line
# and run the program with no keepalive, exit 0. keepalive-run says so, 125.
# bad_library NAME SETUP: a copy of the prefix whose library SETUP spoils.
bad_library() {
    local dir=$TMP/badlib-$1
    mkdir -p "$dir/bin" "$dir/lib"
    cp "$RUN" "$dir/bin/"
    cp "$LIB" "$dir/lib/"
    eval "$2"
    echo "$dir"
}
while IFS='|' read -r name setup message; do
    dir=$(bad_library "$name" "$setup")
    rm -f "$TMP/ran"
    as=()
    if [[ $name == unreadable && $(id -u) == 0 ]]; then
        # root reads any file: run as nobody, for whom it is unreadable.
        chmod 755 "$TMP" && chmod -R a+rX "$dir" && chmod 000 "$dir/lib/libkeepalive-preload.so"
        as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    fi
    "${as[@]}" "$dir/bin/keepalive-run" -d 30 -- sh -c ": >'$TMP/ran'" 2>"$TMP/err.out"
    rc=$?
    if [[ $rc == 125 && ! -e $TMP/ran ]] && grep -qF "$dir/lib/libkeepalive-preload.so" "$TMP/err.out" &&
        grep -qF "$message" "$TMP/err.out"; then
        pass "preload library $name: '$message', program not run, exit 125"
    else
        fail "preload library $name: '$message', program not run, exit 125" "exit $rc" "$(cat "$TMP/err.out")"
    fi
done <<'EOF'
unreadable|chmod 000 "$dir/lib/libkeepalive-preload.so"|cannot read it (Permission denied
not-elf|echo 'not a library' >"$dir/lib/libkeepalive-preload.so"|not an ELF file
object-file|echo 'int x;' >"$dir/x.c" && cc -c "$dir/x.c" -o "$dir/lib/libkeepalive-preload.so"|not a shared object
EOF

# Programs no preload library can reach: statically linked (no loader runs),
# and setuid to another user (secure-execution mode ignores LD_PRELOAD from
# non-system paths). Each: exit 125, why, and a pointer to keepalive cgroup.
printf '#include <stdio.h>\nint main(void) { puts("ran"); return 0; }\n' >"$TMP/ran.c"
if cc -static -o "$TMP/static-prog" "$TMP/ran.c" 2>"$TMP/cc.err"; then
    "$RUN" -d 30 -- "$TMP/static-prog" >"$TMP/run.out" 2>"$TMP/err.out"
    rc=$?
    if [[ $rc == 125 && ! -s $TMP/run.out ]] && grep -q 'statically linked' "$TMP/err.out" &&
        grep -q 'keepalive cgroup attach' "$TMP/err.out"; then
        pass "a statically linked program (cc -static): not run, says why, points to keepalive cgroup, exit 125"
    else
        fail "a statically linked program (cc -static): not run, says why, points to keepalive cgroup, exit 125" \
            "exit $rc" "$(cat "$TMP/run.out" "$TMP/err.out")"
    fi
    # Found through PATH like execvp, and behind a script's #! line too.
    mkdir -p "$TMP/pathdir" && cp "$TMP/static-prog" "$TMP/pathdir/static-in-path"
    printf '#!%s\n' "$TMP/static-prog" >"$TMP/pathdir/via-script" && chmod +x "$TMP/pathdir/via-script"
    path_ok=1
    for prog in static-in-path via-script; do
        PATH=$TMP/pathdir:$PATH "$RUN" -- "$prog" >"$TMP/run.out" 2>"$TMP/err.out"
        rc=$?
        [[ $rc == 125 ]] && grep -q "$TMP/pathdir/$prog: .*statically linked" "$TMP/err.out" || path_ok=0
    done
    if ((path_ok)); then pass "a static program found through PATH, or as a script's interpreter: exit 125"; else
        fail "a static program found through PATH, or as a script's interpreter: exit 125" "exit $rc" "$(cat "$TMP/err.out")"; fi
else
    skip "static program: cc -static does not work here ($(head -1 "$TMP/cc.err"))"
fi

cc -O1 -pthread -o "$TMP/plain-probe" "$(dirname "$0")/probe.c"
if [[ $(id -u) != 0 ]]; then
    skip "setuid program: making a file setuid to another user needs root"
elif findmnt -no OPTIONS -T "$TMP" | grep -qw nosuid; then
    skip "setuid program: $TMP is on a nosuid file system"
else
    cp "$TMP/plain-probe" "$TMP/suid-probe"
    chown nobody "$TMP/suid-probe" && chmod 4755 "$TMP/suid-probe"
    # What keepalive-run guards against: the loader ignores the library.
    env KEEPIDLE=33 LD_PRELOAD="$LIB" "$TMP/suid-probe" >"$TMP/suid-bare.out" 2>&1
    "$RUN" -d 33 -- "$TMP/suid-probe" >"$TMP/run.out" 2>"$TMP/err.out"
    rc=$?
    if [[ $rc == 125 && ! -s $TMP/run.out ]] && grep -q 'set-user-ID (owner uid [0-9]*)' "$TMP/err.out" &&
        grep -q 'secure-execution mode' "$TMP/err.out" && grep -q 'keepalive cgroup attach' "$TMP/err.out" &&
        grep -q "^ipv4 so_keepalive=0 keepidle=$IDLE0 " "$TMP/suid-bare.out"; then
        pass "a setuid program (which LD_PRELOAD never reaches): not run, says why, points to keepalive cgroup, exit 125"
    else
        fail "a setuid program (which LD_PRELOAD never reaches): not run, says why, points to keepalive cgroup, exit 125" \
            "exit $rc" "$(cat "$TMP/run.out" "$TMP/err.out")" "bare run under LD_PRELOAD:" "$(head -1 "$TMP/suid-bare.out")"
    fi
    # Setuid to the caller itself changes nothing: the preload reaches it.
    cp "$TMP/plain-probe" "$TMP/suid-self" && chmod 4755 "$TMP/suid-self"
    "$RUN" -d 34 -- "$TMP/suid-self" >"$TMP/run.out" 2>&1
    if grep -q '^ipv4 so_keepalive=1 keepidle=34 ' "$TMP/run.out"; then
        pass "setuid to the caller's own uid: no secure-execution mode, the preload reaches it"
    else
        fail "setuid to the caller's own uid: no secure-execution mode, the preload reaches it" "$(cat "$TMP/run.out")"
    fi
fi

# Secure execution (AT_SECURE): /etc/ld.so.preload loads the library even
# into setuid and setgid programs, whose environment belongs to a less
# privileged caller. There the environment is ignored (keepalive on with the
# system's defaults, as with no variable) and nothing is written. Tried in a
# mount namespace of its own, where /etc is overlaid with an ld.so.preload
# naming the library; the probe is setgid to a group root is not in (root's
# egid then differs from its gid, so the loader sets AT_SECURE).
# secure_run PROGRAM ARGS...: PROGRAM with /etc/ld.so.preload naming $LIB.
secure_run() {
    unshare -m bash -c '
        set -e
        mount --make-rprivate /
        mount -t tmpfs tmpfs "$1"
        mkdir "$1/upper" "$1/work"
        echo "$2" >"$1/upper/ld.so.preload"
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
        shift 2
        exec env KEEPIDLE=77 KEEPCNT=junk KEEPALIVE_DEADLINE=x KEEPALIVE_ENFORCE=1 "$@"
    ' secure_run "$TMP/ovl" "$LIB" "$@"
}
secure_why=
if [[ $(id -u) != 0 ]]; then
    secure_why="needs root (a mount namespace, a setgid program)"
elif ! command -v unshare >/dev/null; then
    secure_why="unshare (util-linux) is missing"
elif findmnt -no OPTIONS -T "$TMP" | grep -qw nosuid; then
    secure_why="$TMP is on a nosuid file system"
else
    mkdir -p "$TMP/ovl"
    cp "$TMP/plain-probe" "$TMP/sgid-probe" && chgrp nogroup "$TMP/sgid-probe" && chmod 2755 "$TMP/sgid-probe"
    # Control: the same, not setgid: the environment's values apply.
    if ! secure_run "$TMP/plain-probe" >"$TMP/insecure.out" 2>"$TMP/insecure.err"; then
        secure_why="no overlay of /etc in a mount namespace here: $(tail -1 "$TMP/insecure.err")"
    fi
fi
if [[ -n $secure_why ]]; then
    if [[ ${CI:-} == true && $(id -u) == 0 ]]; then fail "secure execution" "$secure_why"; else
        skip "secure execution (setgid program under /etc/ld.so.preload): $secure_why"; fi
elif ! grep -q '^ipv4 so_keepalive=1 keepidle=77 ' "$TMP/insecure.out" ||
    ! grep -q 'ignoring KEEPCNT="junk"' "$TMP/insecure.err"; then
    fail "secure execution: the control run (not setgid) takes the environment" \
        "$(cat "$TMP/insecure.out" "$TMP/insecure.err")"
else
    secure_run "$TMP/sgid-probe" >"$TMP/secure.out" 2>"$TMP/secure.err"
    secure_run "$TMP/sgid-probe" own >"$TMP/secure-own.out" 2>>"$TMP/secure.err"
    if grep -q "^ipv4 so_keepalive=1 keepidle=$IDLE0 keepintvl=$INTVL0 keepcnt=$CNT0 user_timeout=0$" "$TMP/secure.out" &&
        grep -q "^own-tcp rc=0 $OWN_VALUES$" "$TMP/secure-own.out" && [[ ! -s $TMP/secure.err ]]; then
        pass "a setgid program under /etc/ld.so.preload: KEEPIDLE, KEEPCNT, KEEPALIVE_DEADLINE, KEEPALIVE_ENFORCE ignored (system defaults), no warning written"
    else
        fail "a setgid program under /etc/ld.so.preload: the environment ignored, nothing written" \
            "$(cat "$TMP/secure.out" "$TMP/secure-own.out" "$TMP/secure.err")"
    fi
fi

# --- programs we did not write ----------------------------------------------
echo "== programs we did not write"
cat >"$TMP/client.py" <<'EOF'
import socket, sys
host = sys.argv[1]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as listener:
    listener.bind((host, 0))
    listener.listen()
    with socket.create_connection(listener.getsockname()[:2]) as conn:
        get = conn.getsockopt
        print("so_keepalive=%d keepidle=%d keepintvl=%d keepcnt=%d user_timeout=%d" % (
            get(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            get(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            get(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            get(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            get(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)))
EOF
for host in 127.0.0.1 ::1; do
    got=$("$RUN" -d 30 -i 5 -c 3 -u 4000 -- python3 "$TMP/client.py" "$host" 2>&1)
    want="so_keepalive=1 keepidle=30 keepintvl=5 keepcnt=3 user_timeout=4000"
    if [[ $got == "$want" ]]; then pass "python3 socket.create_connection to $host gets keepalive"
    elif [[ $host == ::1 && $got == *"Cannot assign requested address"* ]]; then skip "python3 over IPv6: no ::1 on this machine"
    else fail "python3 socket.create_connection to $host gets keepalive" "$got"; fi
done

# curl, with its own keepalive turned off so that what we see is ours, against
# python3's http.server on loopback; synchronised on the server's ready line.
mkfifo "$TMP/server.fifo"
python3 -u -m http.server --bind 127.0.0.1 --directory "$TMP" 0 >"$TMP/server.fifo" 2>/dev/null &
SERVER_PID=$!
exec 3<"$TMP/server.fifo"
port=
if read -r -t 30 ready <&3; then port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' <<<"$ready"); fi
if [[ -z $port ]]; then
    fail "http.server on loopback started" "${ready:-no ready line}"
else
    strace -f -qq -e trace=setsockopt -o "$TMP/curl.trace" \
        "$RUN" -d 31 -i 6 -c 4 -- curl --no-keepalive -sS -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/" >"$TMP/curl.out" 2>&1
    rc=$?
    if [[ $rc == 0 && $(cat "$TMP/curl.out") == 200 ]] &&
        grep -q 'SO_KEEPALIVE, \[1\]' "$TMP/curl.trace" &&
        grep -q 'TCP_KEEPIDLE, \[31\]' "$TMP/curl.trace" &&
        grep -q 'TCP_KEEPINTVL, \[6\]' "$TMP/curl.trace" &&
        grep -q 'TCP_KEEPCNT, \[4\]' "$TMP/curl.trace"; then
        pass "curl --no-keepalive fetching from http.server gets keepalive (seen with strace)"
    else
        fail "curl --no-keepalive fetching from http.server gets keepalive (seen with strace)" \
            "exit $rc: $(cat "$TMP/curl.out")" "$(cat "$TMP/curl.trace")"
    fi
fi
exec 3<&-
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=

# curl sets its own keepalive (60 s idle and interval), which defeated -D:
# against a server whose host is cut off, curl under -D 5 --enforce dies on
# time, while under -D 5 alone it is still waiting 12 s later, and it was told
# which of curl's own calls won. In a network namespace of its own (lo, an
# nftables rule dropping every TCP packet there).
cut_why=
if [[ $(id -u) != 0 ]]; then cut_why="needs root (a network namespace)"
elif ! command -v unshare >/dev/null || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
    cut_why="unshare, nft or ip is missing"
fi
if [[ -n $cut_why ]]; then
    if [[ ${CI:-} == true && $(id -u) == 0 ]]; then fail "curl, cut off" "$cut_why"; else
        skip "curl against a cut-off server: $cut_why"; fi
elif ! unshare -n python3 "$(dirname "$0")/cut_off.py" "$RUN" 5 12 >"$TMP/cut.out" 2>"$TMP/cut.err"; then
    fail "curl against a cut-off server: the experiment ran" "$(cat "$TMP/cut.out" "$TMP/cut.err")"
else
    sed 's/^/    | /' "$TMP/cut.out"
    enforced=$(sed -n 's/^enforce exit=\([0-9]*\) after=\([0-9.]*\) .*/\1 \2/p' "$TMP/cut.out")
    read -r rc after <<<"${enforced:-x 999}"
    if [[ $rc =~ ^[1-9][0-9]*$ ]] && grep -q '^enforce .*timed out' "$TMP/cut.out" &&
        awk -v a="$after" 'BEGIN { exit !(a >= 4 && a <= 7) }'; then
        pass "curl under keepalive-run -D 5 --enforce: dead ${after} s after its server was cut off (deadline 5 s)"
    else
        fail "curl under keepalive-run -D 5 --enforce dies about 5 s after the cut" "$(cat "$TMP/cut.out")"
    fi
    if grep -q '^own exit=running after=1[2-9]' "$TMP/cut.out" &&
        grep -q '^own .*the program set TCP_KEEPIDLE=60 itself, overriding the configured 2' "$TMP/cut.out"; then
        pass "curl under keepalive-run -D 5 (no --enforce): its own 60 s wins, still waiting 12 s after the cut, and keepalive-run said so"
    else
        fail "curl under keepalive-run -D 5 (no --enforce): its own 60 s wins, and it is said" "$(cat "$TMP/cut.out")"
    fi
fi

echo "preload: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
