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

# bench_rows_from FILE: records the ROW lines a benchmark program printed
# (ROW <TAB> figure <TAB> measured <TAB> target <TAB> verdict).
bench_rows_from() {
    local tag fig val tgt verdict
    while IFS=$'\t' read -r tag fig val tgt verdict; do
        [[ $tag == ROW ]] && bench_row "$fig" "$val" "$tgt" "$verdict"
    done <"$1"
}

# bench_cc NAME [PKG [SOURCE...]]: compiles bench/NAME.c (and the other
# bench/SOURCEs; -O2, warnings as errors) into $BENCH_OUT/bin/NAME and prints
# that path; with a PKG, links it the way users do, through pkg-config against
# the staged build/ (shared, rpath to it).
bench_cc() {
    local name=$1 pkg=${2:-} flags=() srcs=("$TOP/bench/$1.c") out=$BENCH_OUT/bin/$1
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
