#!/usr/bin/env bash
# Prints every recorded result as one table, and writes the same as Markdown
# to $BENCH_OUT/report.md (the body of BENCHMARKS.md), with the date and the
# machine. Parts that never ran are listed as such.
#
# Usage: table.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parts=(c py preload detect scale)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
machine="$(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
load=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -s $BENCH_OUT/load-before ]]; then # written by make bench as it starts
    load="$(cat "$BENCH_OUT/load-before") before the run, $load after"
fi
when=$(date -u '+%Y-%m-%d %H:%M UTC')

{
    echo "Run of $when on $machine; load average $load."
    echo
    echo "| figure | measured | target | verdict |"
    echo "|---|---|---|---|"
    for p in "${parts[@]}"; do
        if [[ -s $BENCH_OUT/$p.tsv ]]; then
            awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$BENCH_OUT/$p.tsv"
        else
            echo "| $p | did not run | | SKIP |"
        fi
    done
} >"$BENCH_OUT/report.md"

echo
echo "== make bench: $when, $machine, load $load"
printf '   %-52s %-40s %-18s %s\n' figure measured target verdict
for p in "${parts[@]}"; do
    if [[ -s $BENCH_OUT/$p.tsv ]]; then
        awk -F'\t' '{ printf "   %-52s %-40s %-18s %s\n", $2, $3, $4, $5 }' "$BENCH_OUT/$p.tsv"
    else
        printf '   %-52s %-40s %-18s %s\n' "$p" "did not run" "" SKIP
    fi
done
misses=$(cat "$BENCH_OUT"/*.tsv 2>/dev/null | awk -F'\t' '$5 == "MISS"' | wc -l)
echo "== $misses target(s) missed; the table is also in $BENCH_OUT/report.md"
