// This file is not part of any package in the module: bench/run.sh
// -profile adds it to cmd/sextant with `go build -overlay`, so that the
// benchmark can take CPU and allocation profiles of `sextant serve` under
// load without the shipped binary serving pprof.

package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// With SEXTANT_BENCH_PPROF=host:port set, sextant serves /debug/pprof/ on
// that address.
func init() {
	addr := os.Getenv("SEXTANT_BENCH_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go http.ListenAndServe(addr, mux)
}
