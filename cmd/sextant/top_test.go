package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	"github.com/sextant-router/sextant/internal/ui"
)

const topConfig = `
admin: {key_env: ADMIN_KEY}
executor: {max_retries: 0}
models:
  - name: small
    provider: sim
    price: {input: 1, output: 2}
    options: {seed: 1, realtime: false, output_tokens: 6}
  - name: big
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 2, realtime: false, output_tokens: 6}
routes:
  auto:
    fallback: [small, big]
`

// topServer serves the gateway with the dashboard API over the sim fleet
// and sends it a few requests.
func topServer(t *testing.T) *httptest.Server {
	t.Helper()
	f, err := config.Parse([]byte(topConfig))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Build(f, config.BuildOptions{Getenv: func(k string) string { return map[string]string{"ADMIN_KEY": "adm"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	rec := ui.NewRecent(100, nil)
	eng := engine.New(snap, nil, rec)
	h := ui.Handler(ui.Options{Snapshot: eng.Snapshot, Recent: rec})
	gw := gateway.New(eng, nil, slog.New(slog.DiscardHandler), gateway.WithHandler("/ui/", h))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	for range 3 {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return srv
}

func TestTopOnce(t *testing.T) {
	srv := topServer(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"top", "--addr", srv.URL, "--once", "--window", "1m"}, &out, &errOut,
		func(k string) string { return map[string]string{"SEXTANT_ADMIN_KEY": "adm"}[k] })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	for _, want := range []string{"window 1m", "baseline big", "requests 3", "auto", "small 100.0%", "small", "ok", "big", "idle"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("--once printed terminal control codes")
	}
}

func TestTopNeedsTheAdminKey(t *testing.T) {
	srv := topServer(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"top", "--addr", srv.URL, "--once"}, &out, &errOut, func(string) string { return "" })
	if code != 1 || !strings.Contains(errOut.String(), "401") || !strings.Contains(errOut.String(), "SEXTANT_ADMIN_KEY") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

// Without --once, top redraws in place until its context ends.
func TestTopRefreshesInPlace(t *testing.T) {
	srv := topServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"top", "--addr", srv.URL, "--interval", "200ms", "--no-color"}, &out, &errOut,
		func(k string) string { return map[string]string{"SEXTANT_ADMIN_KEY": "adm"}[k] })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	if n := strings.Count(s, "\x1b[H"); n < 2 {
		t.Errorf("%d frames drawn, want at least 2", n)
	}
	if !strings.HasPrefix(s, "\x1b[?25l") || !strings.Contains(s, "\x1b[?25h") {
		t.Error("the cursor is not hidden and restored")
	}
}

func TestTopBadFlags(t *testing.T) {
	for _, args := range [][]string{{"top", "--window", "1h"}, {"top", "--interval", "1ms"}, {"top", "--nope"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
