# Sourced by the shell test runners (tests/c/run.sh, tests/cmake/run.sh,
# tests/arm64/run.sh): one PASS/FAIL line per check, and the count at the end.
#
#   check NAME CMD...   runs CMD: PASS NAME when it succeeds, else its output
#                       (indented) and FAIL NAME
#   pass NAME, fail NAME  for a check decided by the runner itself
#   check_summary WHAT  prints "== WHAT: N passed, N failed"; returns 1 when
#                       any failed (the runner's last command, so its status)

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
check() {
    local name=$1 log
    shift
    if log=$("$@" 2>&1); then pass "$name"; else echo "$log" | sed 's/^/    /'; fail "$name"; fi
}
check_summary() {
    echo "== $1: $passed passed, $failed failed"
    ((failed == 0))
}
