#!/usr/bin/env bash
# The load benchmark of portcullis, in one command: bash bench/load.sh
#
# Builds the bench server (bench/server, release), starts it on 127.0.0.1, fetches its tokens,
# checks that every route answers with the status it is meant to, then drives each route with
# wrk, interleaved, for several rounds, and prints the median requests per second of each route
# with its ratio to the unguarded route and to the hand-written bare-jsonwebtoken check. Last, it
# times an unauthenticated upload that the guard must refuse without reading the body.
#
# Settings (environment):
#   ROUNDS=3         rounds; each round runs every route once, in a rotated order
#   DURATION=5       seconds of wrk per route and round
#   THREADS=2        wrk threads
#   CONNECTIONS=32   wrk connections
#   BENCH_ADDR=127.0.0.1:3999
#   UPLOAD_MB=50     size of the unauthenticated upload
#   UPLOAD_RUNS=5    how many times it is timed
#   ONLY=regex       run only the routes whose name matches (plain is always run)
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

# name | path | token name (- for none) | expected status | the route it is compared with
CASES=(
    "plain|/plain|-|200|"
    "plain + rs256 header|/plain|rs256|200|"
)
for alg in rs256 es256 eddsa hs256; do
    CASES+=(
        "$alg cache hit|/$alg/cached|$alg|200|$alg bare jsonwebtoken"
        "$alg cache off|/$alg/uncached|$alg|200|$alg bare jsonwebtoken"
        "$alg bare jsonwebtoken|/$alg/bare|$alg|200|"
    )
done
CASES+=(
    "401 no token|/es256/cached|-|401|"
    "401 expired rs256|/rs256/cached|rs256-expired|401|401 expired rs256 bare"
    "401 expired rs256 bare|/rs256/bare|rs256-expired|401|"
    "401 expired es256|/es256/cached|es256-expired|401|401 expired es256 bare"
    "401 expired es256 bare|/es256/bare|es256-expired|401|"
    "401 wrong aud es256|/es256/cached|es256-wrongaud|401|401 wrong aud es256 bare"
    "401 wrong aud es256 bare|/es256/bare|es256-wrongaud|401|"
    "403 no scope es256|/es256/cached|es256-noscope|403|"
)
if [ -n "$ONLY" ]; then
    selected=()
    for case in "${CASES[@]}"; do
        IFS='|' read -r name _ <<<"$case"
        if [ "$name" = plain ] || [[ "$name" =~ $ONLY ]]; then selected+=("$case"); fi
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

plain=$(stat plain 3)
plain_best=$(best plain)
echo
echo "Load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, median of rounds; $(nproc) cores shared by wrk and the server"
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(rustc -V 2>/dev/null), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "x unguarded and x bare: ratios of medians; best: the same ratios of each route's best round"
echo
printf '| %-26s | %-6s | %10s | %-13s | %8s | %11s | %7s | %7s | %7s |\n' \
    route status "req/s" "range" "p99 ms" "x unguarded" "best" "x bare" "best"
printf '| %-26s | %-6s | %10s | %-13s | %8s | %11s | %7s | %7s | %7s |\n' \
    --- --- ---: --- ---: ---: ---: ---: ---:
for case in "${CASES[@]}"; do
    IFS='|' read -r name _ _ expect versus <<<"$case"
    rps=$(stat "$name" 3)
    p99=$(stat "$name" 4)
    vs=""
    vs_best=""
    if [ -n "$versus" ]; then
        vs=$(ratio "$rps" "$(stat "$versus" 3)")
        vs_best=$(ratio "$(best "$name")" "$(best "$versus")")
    fi
    printf '| %-26s | %-6s | %10.0f | %-13s | %8.2f | %11s | %7s | %7s | %7s |\n' \
        "$name" "$expect" "$rps" "$(minmax "$name")" "$p99" "$(ratio "$rps" "$plain")" \
        "$(ratio "$(best "$name")" "$plain_best")" "$vs" "$vs_best"
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
