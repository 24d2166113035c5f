// Command upstream runs the mock OpenAI upstream of package mock on a
// loopback address, for the overhead benchmark.
//
//	upstream [-addr 127.0.0.1:18090] [-latency 0] [-pace 5ms]
//
// It prints "listening on ADDR" once it accepts connections and serves
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/sextant-router/sextant/bench/mock"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (port 0 picks a free one)")
	latency := flag.Duration("latency", 0, "fixed wait before each answer")
	pace := flag.Duration("pace", mock.DefaultPace, "wait between the stream events of model \""+mock.PacedModel+"\"")
	flag.Parse()

	m := mock.New(mock.Options{Latency: *latency, Pace: *pace})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: m.Handler(), ConnState: m.ConnState}
	fmt.Printf("listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}
