#!/usr/bin/env bash
# Runs Sextant's overhead benchmark in one command (see bench/README.md):
# builds sextant, the mock upstream, the reverse proxy and the load
# generator, then measures every target in one run on loopback.
#
#   bench/run.sh [-quick] [-profile] [-sextant BIN] [-out DIR] [loadgen flags...]
#
# -quick       a smoke run of a minute or two instead of about eight
# -profile     also build sextant with pprof (bench/testdata/benchpprof.go,
#              added by go build -overlay), profile it under load after the
#              measurements and write cpu-*.pprof, allocs.pprof and their
#              `go tool pprof -top` summaries next to the results
# -sextant BIN measure this sextant binary instead of building ./cmd/sextant
#              (to compare two versions; with -profile it must have been
#              built with the same overlay)
#
# Results (results.md, results.json), the servers' logs and any profiles go
# to -out, by default a new temporary directory; the last line names it.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=0 out="" sextant="" args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-profile | --profile) profile=1 ;;
	-out | --out) out="$2"; shift ;;
	-out=* | --out=*) out="${1#*=}" ;;
	-sextant | --sextant) sextant="$2"; shift ;;
	*) args+=("$1") ;;
	esac
	shift
done
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/sextant-bench.XXXXXX")
fi
mkdir -p "$out"

bin=$(mktemp -d "${TMPDIR:-/tmp}/sextant-bench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT

echo "building into $bin" >&2
if [ -n "$sextant" ]; then
	cp "$sextant" "$bin/sextant"
elif [ "$profile" = 1 ]; then
	printf '{"Replace": {"%s/cmd/sextant/zz_benchpprof.go": "%s/bench/testdata/benchpprof.go"}}\n' "$PWD" "$PWD" >"$bin/overlay.json"
	go build -overlay "$bin/overlay.json" -o "$bin/sextant" ./cmd/sextant
else
	go build -o "$bin/sextant" ./cmd/sextant
fi
if [ "$profile" = 1 ]; then
	args+=(-profile 12s)
fi
go build -o "$bin/upstream" ./bench/cmd/upstream
go build -o "$bin/proxy" ./bench/cmd/proxy
go build -o "$bin/loadgen" ./bench/cmd/loadgen

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)" >&2
"$bin/loadgen" -sextant "$bin/sextant" -upstream "$bin/upstream" -proxy "$bin/proxy" \
	-config bench/sextant.yaml -out "$out" ${args[@]+"${args[@]}"}

if [ "$profile" = 1 ]; then
	for p in "$out"/cpu-*.pprof; do
		go tool pprof -top -nodecount=40 "$bin/sextant" "$p" >"${p%.pprof}.top.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=80 "$bin/sextant" "$p" >"${p%.pprof}.cum.txt" 2>/dev/null || true
	done
	if [ -f "$out/allocs.pprof" ]; then
		go tool pprof -top -sample_index=alloc_space -nodecount=40 "$bin/sextant" "$out/allocs.pprof" >"$out/allocs.top.txt" 2>/dev/null || true
	fi
fi
echo "results in $out" >&2
