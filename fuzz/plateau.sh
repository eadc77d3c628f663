#!/bin/sh
# Summarises a libFuzzer log: coverage at 10/25/50/75/100 % of the executions, when the final
# coverage was first reached, and libFuzzer's final statistics.
log="$1"
grep -E '^#[0-9]+' "$log" | awk '
  { for (i = 1; i <= NF; i++) if ($i == "cov:") c = $(i + 1); n[NR] = substr($1, 2) + 0; cov[NR] = c }
  c != last { last = c; at = substr($1, 2) }
  END {
    total = n[NR]
    split("0.10 0.25 0.50 0.75 1.00", q, " ")
    for (k = 1; k <= 5; k++) {
      for (r = 1; r <= NR; r++) if (n[r] >= q[k] * total) break
      if (r > NR) r = NR
      printf "cov at %3d%% of runs: %s\n", q[k] * 100, cov[r]
    }
    printf "final cov %s, first reached at execution %s of %s\n", last, at, total
  }'
grep -E '^Done|^stat::(average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
