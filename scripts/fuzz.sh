#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through libfuzzer-sys) of every target
# in fuzz/fuzz_targets, SECONDS each (default 20), over the corpus in
# fuzz/corpus/<target>. New inputs go to a temporary directory, so a run
# leaves the checkout as it was. Fails on any crash, hang (10 s) or
# out-of-memory (2 GiB).
#
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# The build needs unstable compiler flags (-Zsanitizer=address): with the
# machine's nightly toolchain when it has one, else with the stable one
# and RUSTC_BOOTSTRAP=1. HOOKGATE_FUZZ_TOOLCHAIN=stable forces the second.
# For long runs and minimising the corpus, use cargo fuzz (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(signature_headers envelope verify_call serve_config forwarded_headers)
fi

toolchain="${HOOKGATE_FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then toolchain=nightly; else toolchain=stable; fi
fi
cargo_cmd=(cargo "+$toolchain")
if [ "$toolchain" != nightly ]; then export RUSTC_BOOTSTRAP=1; fi

host="$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')"
# The flags cargo fuzz passes (cargo-fuzz 0.13, sanitizer address).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cllvm-args=-sanitizer-coverage-stack-depth -Ccodegen-units=1"
export ASAN_OPTIONS="detect_odr_violation=0"
echo "== fuzz: building ${#targets[@]} targets ($toolchain toolchain)"
"${cargo_cmd[@]}" build --locked --release --target "$host" --target-dir target/short --bins -q

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "corpus/$t"
  echo "== fuzz: $t for ${seconds}s"
  if ! "target/short/$host/release/$t" "$work/$t" "corpus/$t" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$work/" -print_final_stats=1 >"$work/$t.log" 2>&1; then
    tail -n 40 "$work/$t.log"
    echo "fuzz: $t failed; the input is under $work (kept)" >&2
    trap - EXIT
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/$t.log" | tail -n 2
done
