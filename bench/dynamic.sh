#!/usr/bin/env bash
# Measures how fast the balance route shifts traffic off a model whose
# latency rises 5x, and back once it heals (bench/dynamic/main.go), with
# one replica and with two replicas sharing state through Redis.
#
#   bench/dynamic.sh [-rps 100] [other bench/dynamic flags...]
#
# The two-replica run needs redis-server on PATH; it is started on a free
# local port with persistence off and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d "${TMPDIR:-/tmp}/sextant-dynamic-bin.XXXXXX")
redis_pid=""
cleanup() {
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/sextant" ./cmd/sextant
go build -o "$bin/dynamic" ./bench/dynamic

echo "== one replica"
"$bin/dynamic" -sextant "$bin/sextant" -replicas 1 "$@"

if ! command -v redis-server >/dev/null 2>&1; then
	echo "== two replicas: skipped, redis-server is not installed"
	exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$bin" >"$bin/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done
echo "== two replicas sharing redis at 127.0.0.1:$port"
"$bin/dynamic" -sextant "$bin/sextant" -replicas 2 -redis "127.0.0.1:$port" "$@"
