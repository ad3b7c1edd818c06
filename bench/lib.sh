# Sourced by every bench/*.sh script: where results go, how a row is
# recorded, and the small statistics the scripts share.
#
# A result row is one line of $BENCH_OUT/<part>.tsv:
#   part <TAB> figure <TAB> measured <TAB> target <TAB> PASS|MISS|SKIP
# bench/table.sh prints every part's rows as one table.

shopt -s inherit_errexit # a failure inside $(...) fails the script too

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$TOP/build}
BENCH_OUT=${BENCH_OUT:-$TOP/bench/out}
APT_ENSURE=${APT_ENSURE:-$TOP/tests/lib/apt-ensure.sh}
mkdir -p "$BENCH_OUT"

# bench_begin PART: starts PART's rows afresh (a rerun replaces them).
bench_begin() {
    BENCH_PART=$1
    BENCH_ROWS=$BENCH_OUT/$1.tsv
    : >"$BENCH_ROWS"
}

# bench_row FIGURE MEASURED TARGET VERDICT: records one row and shows it.
bench_row() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$BENCH_PART" "$1" "$2" "$3" "$4" >>"$BENCH_ROWS"
    printf '   %-52s %-22s %-14s %s\n' "$1" "$2" "$3" "$4"
}

# bench_skip FIGURE TARGET REASON: a figure that could not be measured here.
bench_skip() {
    bench_row "$1" "not measured: $3" "$2" SKIP
}

# bench_unless_root FIGURE TARGET WHY: as root, nothing; otherwise records
# FIGURE as not measured (WHY: what needs root) and ends the script.
bench_unless_root() {
    [[ $(id -u) == 0 ]] && return 0
    log "$BENCH_PART: needs root ($3): skipped"
    bench_skip "$1" "$2" "needs root"
    exit 0
}

# bench_unless_built FILE HOW FIGURE TARGET: with FILE there, nothing;
# otherwise says HOW to build it, records FIGURE as not measured and ends the
# script.
bench_unless_built() {
    [[ -e $1 ]] && return 0
    log "not built yet: $1 ($2)"
    bench_skip "$3" "$4" "not built yet: ${1#"$TOP"/}"
    exit 0
}

# bench_rows_from FILE: records the ROW lines a benchmark program printed
# (ROW <TAB> figure <TAB> measured <TAB> target <TAB> verdict).
bench_rows_from() {
    local tag fig val tgt verdict
    while IFS=$'\t' read -r tag fig val tgt verdict; do
        [[ $tag == ROW ]] && bench_row "$fig" "$val" "$tgt" "$verdict"
    done <"$1"
}

# bench_cc NAME [PKG [SOURCE...]]: compiles bench/NAME.c with bench/common.c
# (the programs' shared helpers) and the other bench/SOURCEs (-O2, warnings as
# errors) into $BENCH_OUT/bin/NAME and prints that path; with a PKG, links it
# the way users do, through pkg-config against the staged build/ (shared,
# rpath to it).
bench_cc() {
    local name=$1 pkg=${2:-} flags=() srcs=("$TOP/bench/$1.c" "$TOP/bench/common.c")
    local out=$BENCH_OUT/bin/$1
    shift $(($# < 2 ? $# : 2))
    for s in "$@"; do srcs+=("$TOP/bench/$s"); done
    mkdir -p "$BENCH_OUT/bin"
    if [[ -n $pkg ]]; then
        local pc="PKG_CONFIG_PATH=$BUILD/lib/pkgconfig"
        read -ra flags <<<"$(env "$pc" pkg-config --cflags --libs "$pkg")"
        flags+=("-Wl,-rpath,$BUILD/lib")
    fi
    ${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -o "$out" "${srcs[@]}" "${flags[@]}" >&2 ||
        return 1
    echo "$out"
}

# bench_so NAME: compiles bench/NAME.c into the shared object
# $BENCH_OUT/bin/NAME.so (for ctypes) and prints that path.
bench_so() {
    local out=$BENCH_OUT/bin/$1.so
    mkdir -p "$BENCH_OUT/bin"
    ${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$out" "$TOP/bench/$1.c" >&2 ||
        return 1
    echo "$out"
}

# log MESSAGE...: progress on stderr, with the time.
log() {
    printf '[%s] %s\n' "$(date +%T)" "$*" >&2
}

# median: the median of the numbers on stdin, one per line.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_of NUMBER...: the median of its arguments.
median_of() {
    printf '%s\n' "$@" | median
}

# verdict VALUE LIMIT: PASS when VALUE <= LIMIT, else MISS.
verdict() {
    awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 <= l + 0) ? "PASS" : "MISS" }'
}

# ratio A B: A / B to five decimals (one round of an interleaved comparison).
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.5f", a / b }'
}

# ratio_row FIGURE TARGET PER UNIT "RATIOS" "A" "B" [DIGITS]: records the
# median of RATIOS with the medians of A and B divided by PER beside it
# ("1.023x (512 vs 500 ns)", the ratio with DIGITS decimals, 3 unless said),
# and its verdict against TARGET ("<= 1.05x"; "-": none, a row for scale).
# RATIOS, A and B are space-separated lists of the rounds' figures.
ratio_row() {
    local m a b limit=${2#<= }
    # shellcheck disable=SC2086 # the lists are split on purpose
    m=$(median_of $5) a=$(median_of $6) b=$(median_of $7)
    bench_row "$1" "$(awk -v m="$m" -v a="$a" -v b="$b" -v per="$3" -v unit="$4" -v d="${8:-3}" \
        'BEGIN { printf("%." d "fx (%.0f vs %.0f %s)", m, a / per, b / per, unit) }')" "$2" \
        "$(if [[ $2 == - ]]; then echo -; else verdict "$m" "${limit%x}"; fi)"
}

# need_root WHAT: true when root; otherwise says why WHAT is skipped.
need_root() {
    if [[ $(id -u) != 0 ]]; then
        log "$1 needs root (network namespaces, nftables): skipped"
        return 1
    fi
    if ! ip netns list >/dev/null 2>&1; then
        log "$1 needs 'ip netns' (iproute2): skipped"
        return 1
    fi
}
