#!/usr/bin/env bash
# The load benchmark of portcullis, in one command: bash bench/load.sh
#
# Builds the bench server (bench/server, release), starts it on 127.0.0.1, fetches its tokens,
# checks that every route answers with the status it is meant to, then drives each route with
# wrk, interleaved, for several rounds, and prints the median requests per second of each route
# with its ratio to the unguarded route, to the unguarded route sent the same Authorization header,
# and to the hand-written bare-jsonwebtoken check. Last, it times an unauthenticated upload that
# the guard must refuse without reading the body.
#
# Settings (environment):
#   ROUNDS=3         rounds; each round runs every route once, in a rotated order
#   DURATION=5       seconds of wrk per route and round
#   THREADS=2        wrk threads
#   CONNECTIONS=32   wrk connections
#   BENCH_ADDR=127.0.0.1:3999
#   UPLOAD_MB=50     size of the unauthenticated upload
#   UPLOAD_RUNS=5    how many times it is timed
#   ONLY=regex       run only the routes whose name matches, and those they are compared with
#
# wrk and curl are installed with apt-get when missing. Load generator and server share this
# machine's cores: the figures are relative ones, good for ratios, not capacity planning.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
ADDR=${BENCH_ADDR:-127.0.0.1:3999}
UPLOAD_MB=${UPLOAD_MB:-50}
UPLOAD_RUNS=${UPLOAD_RUNS:-5}
ONLY=${ONLY:-}
BASE="http://$ADDR"

case "$ADDR" in
127.* | localhost:* | "[::1]":*) ;;
*)
    echo "BENCH_ADDR must be a loopback address, not $ADDR" >&2
    exit 2
    ;;
esac

install_packages() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y "$@"
}
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}" >&2
    install_packages "${missing[@]}"
fi

echo "== building the bench server (release)" >&2
cargo build --release -p portcullis-bench-server >&2
BIN="${CARGO_TARGET_DIR:-target}/release/portcullis-bench-server"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

BENCH_ADDR="$ADDR" "$BIN" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "$BASE/plain" 2>/dev/null; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
curl -fsS "$BASE/tokens" >"$WORK/tokens"
token() { awk -v name="$1" '$1 == name { print $2 }' "$WORK/tokens"; }

# name | path | token name (- for none) | expected status | the route it is compared with |
# the unguarded route that gets the same request (the same Authorization header)
CASES=(
    "plain|/plain|-|200||"
)
for alg in rs256 es256 eddsa hs256; do
    CASES+=(
        "plain + $alg header|/plain|$alg|200||"
        "$alg cache hit|/$alg/cached|$alg|200|$alg bare jsonwebtoken|plain + $alg header"
        "$alg cache off|/$alg/uncached|$alg|200|$alg bare jsonwebtoken|plain + $alg header"
        "$alg bare jsonwebtoken|/$alg/bare|$alg|200||plain + $alg header"
    )
done
CASES+=(
    "401 no token|/es256/cached|-|401|401 no token bare|plain"
    "401 no token bare|/es256/bare|-|401||plain"
    "401 expired rs256|/rs256/cached|rs256-expired|401|401 expired rs256 bare|plain + rs256 header"
    "401 expired rs256 bare|/rs256/bare|rs256-expired|401||plain + rs256 header"
    "401 expired es256|/es256/cached|es256-expired|401|401 expired es256 bare|plain + es256 header"
    "401 expired es256 bare|/es256/bare|es256-expired|401||plain + es256 header"
    "401 wrong aud es256|/es256/cached|es256-wrongaud|401|401 wrong aud es256 bare|plain + es256 header"
    "401 wrong aud es256 bare|/es256/bare|es256-wrongaud|401||plain + es256 header"
    "403 no scope es256|/es256/cached|es256-noscope|403||plain + es256 header"
)
if [ -n "$ONLY" ]; then
    # The matching routes, plus the routes they are compared with.
    wanted="|plain|"
    for case in "${CASES[@]}"; do
        IFS='|' read -r name _ _ _ versus same <<<"$case"
        if [[ "$name" =~ $ONLY ]]; then wanted+="$name|$versus|$same|"; fi
    done
    selected=()
    for case in "${CASES[@]}"; do
        IFS='|' read -r name _ <<<"$case"
        if [[ "$wanted" == *"|$name|"* ]]; then selected+=("$case"); fi
    done
    CASES=("${selected[@]}")
fi

auth_args() {
    if [ "$1" != - ]; then printf '%s\n' -H "Authorization: Bearer $(token "$1")"; fi
}

echo "== checking every route's status" >&2
for case in "${CASES[@]}"; do
    IFS='|' read -r name path tok expect _ <<<"$case"
    mapfile -t auth < <(auth_args "$tok")
    got=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$BASE$path")
    if [ "$got" != "$expect" ]; then
        echo "$name: $path answered $got, expected $expect" >&2
        exit 1
    fi
done

# One wrk run: prints "requests/s p99-ms non2xx socket-errors".
run_wrk() {
    local path=$1 tok=$2 out
    mapfile -t auth < <(auth_args "$tok")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${auth[@]}" "$BASE$path")
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
            if (v ~ /s$/) return v * 1000; return v + 0
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $5 }
        /Socket errors:/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
        END { printf "%s %.3f %d %d\n", rps, p99, non2xx, errors }
    ' <<<"$out"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/results"
: >"$RESULTS"
count=${#CASES[@]}
total=$((count * ROUNDS * DURATION))
echo "== $count routes x $ROUNDS rounds x ${DURATION}s: about $((total / 60 + 1)) minutes" >&2
for round in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((count - 1))); do
        # Rotate the order each round so no route always runs first or after the same one.
        case=${CASES[$(((i + (round - 1) * count / ROUNDS) % count))]}
        IFS='|' read -r name path tok expect _ <<<"$case"
        read -r rps p99 non2xx errors < <(run_wrk "$path" "$tok")
        printf '%s|%s|%s|%s|%s|%s\n' "$name" "$round" "$rps" "$p99" "$non2xx" "$errors" >>"$RESULTS"
        printf '   round %s  %-26s %10s req/s  p99 %8s ms\n' "$round" "$name" "$rps" "$p99" >&2
    done
done

# The median of the numbers on standard input.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
stat() { # case column
    awk -F'|' -v name="$1" -v col="$2" '$1 == name { print $col }' "$RESULTS" | median
}
minmax() {
    awk -F'|' -v name="$1" '$1 == name { print $3 }' "$RESULTS" | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'
}
best() {
    awk -F'|' -v name="$1" '$1 == name { print $3 }' "$RESULTS" | sort -g | tail -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo
echo "Load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, median of rounds; $(nproc) cores shared by wrk and the server"
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(rustc -V 2>/dev/null), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "x unguarded: against plain; x same request: against plain sent the same Authorization header;"
echo "x bare: against the hand-written check; each a ratio of medians, and 'best' the same ratio of"
echo "the routes' best rounds"
echo
row() { printf '| %-26s | %-6s | %10s | %-15s | %6s | %11s | %5s | %14s | %5s | %6s | %5s |\n' "$@"; }
row route status "req/s" "range" "p99 ms" "x unguarded" best "x same request" best "x bare" best
row --- --- ---: --- ---: ---: ---: ---: ---: ---: ---:
# The ratio of two routes' medians and of their best rounds; nothing without another route.
compare() { # route, other route
    if [ -n "$2" ]; then
        printf '%s|%s\n' "$(ratio "$(stat "$1" 3)" "$(stat "$2" 3)")" "$(ratio "$(best "$1")" "$(best "$2")")"
    else
        printf '|\n'
    fi
}
for case in "${CASES[@]}"; do
    IFS='|' read -r name _ _ expect versus same <<<"$case"
    IFS='|' read -r vs_plain vs_plain_best < <(compare "$name" plain)
    IFS='|' read -r vs_same vs_same_best < <(compare "$name" "$same")
    IFS='|' read -r vs_bare vs_bare_best < <(compare "$name" "$versus")
    row "$name" "$expect" "$(printf '%.0f' "$(stat "$name" 3)")" "$(minmax "$name")" \
        "$(printf '%.2f' "$(stat "$name" 4)")" "$vs_plain" "$vs_plain_best" \
        "$vs_same" "$vs_same_best" "$vs_bare" "$vs_bare_best"
done
# A 200 route that answered otherwise, or socket errors, would make its figure meaningless.
awk -F'|' '($5 > 0 && $1 !~ /^40/) || $6 > 0 {
    printf "warning: %s round %s: %d non-2xx responses, %d socket errors\n", $1, $2, $5, $6 }' \
    "$RESULTS" >&2

echo
echo "Unauthenticated ${UPLOAD_MB} MB upload to POST /upload (guarded, Bytes body), $UPLOAD_RUNS runs, curl:"
head -c $((UPLOAD_MB * 1024 * 1024)) /dev/zero >"$WORK/upload.bin"
upload() { # label, extra curl arguments
    local label=$1
    shift
    for _ in $(seq "$UPLOAD_RUNS"); do
        curl -s -o /dev/null -X POST -H 'Content-Type: application/octet-stream' "$@" \
            --data-binary "@$WORK/upload.bin" \
            -w '%{http_code} %{time_starttransfer} %{time_total} %{size_upload}\n' "$BASE/upload"
    done >"$WORK/upload.txt"
    local codes first total sent
    codes=$(awk '{ print $1 }' "$WORK/upload.txt" | sort -u | tr '\n' ' ')
    first=$(awk '{ print $2 * 1000 }' "$WORK/upload.txt" | median)
    total=$(awk '{ print $3 * 1000 }' "$WORK/upload.txt" | median)
    sent=$(awk '{ print $4 }' "$WORK/upload.txt" | median)
    printf '  %-38s status %s first byte %7.2f ms, total %7.2f ms, body bytes sent %.0f of %d\n' \
        "$label" "$codes" "$first" "$total" "$sent" $((UPLOAD_MB * 1024 * 1024))
}
upload "(curl default: Expect: 100-continue)"
upload "(-H 'Expect:': body sent at once)" -H 'Expect:'
