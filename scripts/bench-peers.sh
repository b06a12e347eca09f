#!/usr/bin/env bash
# hookgate's verification beside svix, standardwebhooks and webhook-verify
# (bench/peers), RUNS times (default 3): for each run, each library's
# median time as a ratio to hookgate's in that same run; then the median
# ratio over the runs and its min-max spread.
# Usage: bash scripts/bench-peers.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../bench/peers"
runs="${1:-3}"
out=target/peer-ratios
rm -rf "$out" && mkdir -p "$out"
cargo bench --no-run --locked -q
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs"
  rm -rf target/criterion
  cargo bench --locked -q >"$out/run$run.log" 2>&1
  cp -r target/criterion "$out/run$run"
done
python3 - "$out" "$runs" <<'PY'
import json, os, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def median_ns(run, group, fn):
    with open(os.path.join(out, f"run{run}", group, fn, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]
rows = [
    ("standard-webhooks", ["bare_hmac", "standardwebhooks", "svix", "hookgate_verify"]),
    ("github", ["bare_hmac", "webhook-verify", "hookgate_axifi"]),
]
print(f"\nRatios: each library's median time / hookgate's, same run; median over {runs} runs [min-max].")
print("A ratio above 1 means hookgate is faster.\n")
for group, others in rows:
    for size in [512, 2048, 3072, 65536]:
        g = f"{group}_{size}"
        hook = [median_ns(r, g, "hookgate") for r in range(1, runs + 1)]
        cells = []
        for fn in others:
            ratios = [median_ns(r, g, fn) / hook[r - 1] for r in range(1, runs + 1)]
            cells.append(f"{fn} {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
        print(f"{group:18} {size:6}  hookgate {statistics.median(hook)/1000:8.2f} us   " + "   ".join(cells))
PY
