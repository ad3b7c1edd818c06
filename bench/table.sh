#!/usr/bin/env bash
# Prints every recorded result as one table, and writes the same as Markdown
# to $BENCH_OUT/report.md (the body of BENCHMARKS.md), with the date and the
# machine. Parts that never ran are listed as such.
#
# Usage: table.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The scale parts are one per size (scale-1000, scale-10000, ...), smallest first.
scale_parts=()
for f in $(ls "$BENCH_OUT"/scale-*.tsv 2>/dev/null | sort -t- -k2 -n); do
    scale_parts+=("$(basename "$f" .tsv)")
done
((${#scale_parts[@]})) || scale_parts=(scale)
parts=(c py preload detect "${scale_parts[@]}" probes show)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
machine="$(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
load=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -s $BENCH_OUT/load-before ]]; then # written by make bench as it starts
    load="$(cat "$BENCH_OUT/load-before") before the run, $load after"
fi
when=$(date -u '+%Y-%m-%d %H:%M UTC')

# side_by_side md|text: the scale rows as one table, a column per size.
side_by_side() {
    local f files=()
    for f in "${scale_parts[@]}"; do
        [[ -s $BENCH_OUT/$f.tsv ]] && files+=("$BENCH_OUT/$f.tsv")
    done
    awk -F'\t' -v fmt="$1" '
        FNR == 1 { n = split(FILENAME, a, "[-.]"); size[++ns] = a[n - 1] }
        {
            fig = $2; sub(/^Scale [0-9]+: /, "", fig)
            if (!(fig in seen)) { seen[fig] = 1; order[++nf] = fig }
            val[fig, ns] = $3
        }
        END {
            if (fmt == "md") {
                printf "| figure |"; for (i = 1; i <= ns; i++) printf " %s clients |", size[i]; print ""
                printf "|---|"; for (i = 1; i <= ns; i++) printf "---|"; print ""
            } else {
                printf "   %-52s", "figure"; for (i = 1; i <= ns; i++) printf " %-28s", size[i] " clients"; print ""
            }
            for (j = 1; j <= nf; j++) {
                fig = order[j]
                if (fmt == "md") {
                    printf "| %s |", fig; for (i = 1; i <= ns; i++) printf " %s |", val[fig, i]; print ""
                } else {
                    printf "   %-52s", fig; for (i = 1; i <= ns; i++) printf " %-28s", val[fig, i]; print ""
                }
            }
        }' "${files[@]}"
}

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
    if ((${#scale_parts[@]} > 1)); then
        echo
        echo "Scale, side by side (the verdicts are in the table above):"
        echo
        side_by_side md
    fi
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
if ((${#scale_parts[@]} > 1)); then
    echo "== scale, side by side"
    side_by_side text
fi
misses=$(cat "$BENCH_OUT"/*.tsv 2>/dev/null | awk -F'\t' '$5 == "MISS"' | wc -l)
echo "== $misses target(s) missed; the table is also in $BENCH_OUT/report.md"
