// Command proxy is the baseline of the overhead benchmark: Go's
// httputil.ReverseProxy in front of one upstream, with nothing else.
//
//	proxy [-addr 127.0.0.1:18091] -upstream http://127.0.0.1:18090 [-idle-per-host 256]
//
// Its transport is http.DefaultTransport's, except that it keeps up to
// -idle-per-host idle connections to the upstream (Go's default is 2,
// which under concurrent load closes and reopens connections all the
// time); the bench README says why. Event streams are flushed as they
// arrive, as ReverseProxy does for text/event-stream. It prints
// "listening on ADDR" once it accepts connections and serves until SIGINT
// or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18091", "listen address (port 0 picks a free one)")
	upstream := flag.String("upstream", "http://127.0.0.1:18090", "upstream base URL")
	idle := flag.Int("idle-per-host", 256, "idle connections kept to the upstream")
	flag.Parse()

	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		fmt.Fprintf(os.Stderr, "proxy: bad -upstream %q\n", *upstream)
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(tr.MaxIdleConns, *idle)
	tr.MaxIdleConnsPerHost = *idle
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = u.Host
		},
		Transport: tr,
		ErrorLog:  log.New(os.Stderr, "proxy: ", 0),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: rp}
	fmt.Printf("listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}
