#!/usr/bin/env bash
# Load benchmark (bench/load): hookgate's axum and actix-web layers, the
# dedupe stores, the SQLite inbox and `hookgate serve`, beside plain axum,
# plain actix-web and the webhook-verify peer, over HTTP/1.1 on 127.0.0.1.
# Builds everything in release, starts its own redis-server on a free port
# in a temporary folder, runs the matrix and writes
# bench/load/target/bench-load/results.md and results.json.
# Usage: bash scripts/bench-load.sh [--quick] [more flags of `hookgate-loadbench run`]
#   --quick: 1 round of 1 s windows (checks that it all works, about 2 min).
# Fails (non-zero exit) when a server does not start, or when any request of
# a row gets anything other than 200; PASS/MISS of the targets is a report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# redis-server for the Redis dedupe row: Debian's package when missing.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "== installing redis-server"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

echo "== building (release): hookgate-cli, bench/load"
nice -n 5 cargo build --release --locked -q -p hookgate-cli
(cd bench/load && nice -n 5 cargo build --release --locked -q)
hookgate_bin="$root/target/release/hookgate"
bench_bin="$root/bench/load/target/release/hookgate-loadbench"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hookgate-bench-load.XXXXXX")
redis_pid=
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A free port for Redis (asked of the kernel, then released).
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$tmp/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$tmp/redis" \
  --save '' --appendonly no --daemonize no --logfile "$tmp/redis/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
  if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
  if ! kill -0 "$redis_pid" 2>/dev/null; then
    echo "redis-server did not start:"; cat "$tmp/redis/redis.log"; exit 1
  fi
  sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null

echo "== running (redis-server pid $redis_pid on 127.0.0.1:$redis_port; temp dir $tmp)"
"$bench_bin" run "$@" \
  --tmp "$tmp" \
  --hookgate-bin "$hookgate_bin" \
  --redis "redis://127.0.0.1:$redis_port/0" \
  --redis-pid "$redis_pid" \
  --out "$root/bench/load/target/bench-load"
