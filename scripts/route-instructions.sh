#!/usr/bin/env bash
# Instructions per delivery through an axum route, counted by callgrind:
# plain axum, hookgate's layer, and the layer with memory dedupe, over the
# same deliveries. Counts are repeatable for the same binary and inputs,
# whatever else the machine is doing.
#
# Each route runs N and 2N deliveries; the difference divided by N is the
# cost of one delivery, request building included (the same for every
# route). Under valgrind sha2 cannot use the SHA extensions, so SHA-256 is
# counted in software: the script prints each route with and without the
# SHA-256 compression function.
#
# Usage: bash scripts/route-instructions.sh [N] [SIZE]   (default 200 512)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
size="${2:-512}"
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }
cargo build --release --locked -q -p hookgate-axum --example route_instructions
bin=${CARGO_TARGET_DIR:-target}/release/examples/route_instructions
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count() { # route deliveries -> "total sha"
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" "$size" 2>/dev/null
  local total sha
  total=$(callgrind_annotate "$out/cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  sha=$(callgrind_annotate "$out/cg" 2>/dev/null | awk '/sha256::compress256/ && !done {gsub(",","",$1); print $1; done = 1}')
  echo "$total ${sha:-0}"
}
printf '%-16s %14s %16s\n' route "instr/delivery" "without SHA-256"
declare -A all rest
for route in plain hookgate hookgate_memory; do
  read -r t1 s1 < <(count "$route" "$n")
  read -r t2 s2 < <(count "$route" $((2 * n)))
  all[$route]=$(( (t2 - t1) / n ))
  rest[$route]=$(( (t2 - s2 - t1 + s1) / n ))
  printf '%-16s %14d %16d\n' "$route" "${all[$route]}" "${rest[$route]}"
done
for route in hookgate hookgate_memory; do
  awk -v r="$route" -v a="${rest[$route]}" -v p="${rest[plain]}" \
    'BEGIN { printf "%s adds %d instructions per delivery beyond SHA-256 (%.2fx plain'"'"'s, request building included)\n", r, a - p, a / p }'
done
