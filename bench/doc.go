// Package bench holds Sextant's overhead benchmark: Go benchmarks of the
// request hot path in this package, the mock OpenAI upstream (bench/mock),
// the load generator (bench/load, bench/cmd/loadgen), the reverse-proxy
// baseline (bench/cmd/proxy) and bench/run.sh, which runs the loopback
// benchmark in one command. See bench/README.md.
package bench
