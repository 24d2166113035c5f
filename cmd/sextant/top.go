package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/ui"
)

// topCmd is `sextant top`: a terminal view of a running server's live
// numbers (GET /ui/api/overview), redrawn in place.
func topCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "server URL (default http://127.0.0.1:8080, or SEXTANT_ADDR)")
	keyEnv := fs.String("key-env", "SEXTANT_ADMIN_KEY", "environment variable holding the admin key")
	window := fs.Duration("window", 5*time.Minute, "window of the numbers, 5s to 30m")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval")
	once := fs.Bool("once", false, "print one frame without terminal control codes and exit")
	noColor := fs.Bool("no-color", getenv("NO_COLOR") != "", "no colors")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *window < 5*time.Second || *window > 30*time.Minute || *interval < 100*time.Millisecond {
		fmt.Fprintln(stderr, "sextant top: --window must be in [5s,30m] and --interval at least 100ms")
		return errUsage
	}
	base, err := serverURL(firstNonEmpty(*addr, getenv("SEXTANT_ADDR"), "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	t := &top{base: base, key: getenv(*keyEnv), window: *window, client: &http.Client{Timeout: 10 * time.Second},
		color: !*noColor && !*once}
	if *once {
		o, err := t.fetch(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, t.frame(o, 100))
		return err
	}
	fmt.Fprint(stdout, "\x1b[?25l") // hide the cursor
	defer fmt.Fprint(stdout, "\x1b[?25h\n")
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		var out string
		if o, err := t.fetch(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			out = t.paint(ansiRed, "sextant top: "+err.Error()) + "\n(retrying)\n"
		} else {
			out = t.frame(o, termWidth(getenv))
		}
		// Home, draw, clear what the last frame left below.
		fmt.Fprint(stdout, "\x1b[H"+strings.ReplaceAll(out, "\n", "\x1b[K\n")+"\x1b[J")
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func serverURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid server address %q", addr)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func termWidth(getenv func(string) string) int {
	var w int
	if _, err := fmt.Sscan(getenv("COLUMNS"), &w); err == nil && w >= 60 {
		return w
	}
	return 100
}

type top struct {
	base   string
	key    string
	window time.Duration
	client *http.Client
	color  bool
}

func (t *top) fetch(ctx context.Context) (*ui.Overview, error) {
	u := fmt.Sprintf("%s/ui/api/overview?window=%d", t.base, int(t.window.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", t.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.Unmarshal(body, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			msg += " (set the admin key in SEXTANT_ADMIN_KEY or name its variable with --key-env)"
		}
		return nil, fmt.Errorf("%s: %d %s", u, resp.StatusCode, msg)
	}
	var o ui.Overview
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if o.Now.IsZero() {
		return nil, errors.New("the server's answer is not an overview")
	}
	return &o, nil
}

// ANSI colors.
const (
	ansiBold   = "1"
	ansiDim    = "2"
	ansiRed    = "31"
	ansiGreen  = "32"
	ansiYellow = "33"
	ansiBlue   = "34"
	ansiCyan   = "36"
)

func (t *top) paint(code, s string) string {
	if !t.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// frame renders one screen of o, width columns wide.
func (t *top) frame(o *ui.Overview, width int) string {
	var b strings.Builder
	w := o.Window
	title := fmt.Sprintf("Sextant top · %s · window %s · %s", t.base, topWindow(o.WindowS), o.Now.Local().Format("15:04:05"))
	fmt.Fprintf(&b, "%s   %s\n\n", t.paint(ansiBold, title), t.paint(ansiDim, "baseline "+topOrDash(o.Baseline)))
	saved := t.paint(ansiGreen, fmt.Sprintf("%s (%s)", topPct(w.SavingsShare), topUSD(w.SavingsUSD)))
	if w.SavingsUSD < 0 {
		saved = t.paint(ansiRed, fmt.Sprintf("%s (%s)", topPct(w.SavingsShare), topUSD(w.SavingsUSD)))
	}
	errs := topPct(w.ErrorRate)
	if w.ErrorRate > 0.05 {
		errs = t.paint(ansiRed, errs)
	}
	cache := "–"
	if n := o.Cache.Hits + o.Cache.Misses; n > 0 {
		cache = topPct(o.Cache.HitRate)
	}
	fmt.Fprintf(&b, " req/s %s   requests %d   errors %s   cost/req %s   saved %s   latency %s   cache %s\n\n",
		t.paint(ansiBold, fmt.Sprintf("%.2f", w.RPS)), w.Requests, errs, topUSD(w.CostPerRequestUSD), saved, topMillis(w.LatencyMeanMS), cache)

	barW := max(width-40, 20)
	fmt.Fprintf(&b, "%s\n", t.paint(ansiCyan, fmt.Sprintf(" %-18s %7s  %s", "ROUTE", "REQS", "ROUTING DISTRIBUTION")))
	palette := []string{ansiBlue, ansiGreen, ansiYellow, "35", ansiCyan, ansiRed}
	colorOf := map[string]string{}
	for _, r := range o.Routes {
		if r.Kind != "route" && r.Requests == 0 {
			continue
		}
		var bar, legend strings.Builder
		used := 0
		for i, m := range r.Models {
			c, ok := colorOf[m.Model]
			if !ok {
				c = palette[len(colorOf)%len(palette)]
				colorOf[m.Model] = c
			}
			n := int(m.Share*float64(barW) + 0.5)
			if i == len(r.Models)-1 {
				n = barW - used
			}
			n = max(min(n, barW-used), 0)
			used += n
			bar.WriteString(t.paint(c, strings.Repeat("█", n)))
			fmt.Fprintf(&legend, " %s %s", t.paint(c, m.Model), topPct(m.Share))
		}
		if r.Requests == 0 {
			bar.WriteString(t.paint(ansiDim, strings.Repeat("·", barW)))
			legend.WriteString(" idle")
		}
		fmt.Fprintf(&b, " %-18s %7d  %s\n %-26s%s\n", topClip(r.Route, 18), r.Requests, bar.String(), "", t.paint(ansiDim, legend.String()))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%s\n", t.paint(ansiCyan, fmt.Sprintf(" %-18s %-9s %7s %7s %9s %9s %9s %9s %10s", "MODEL", "HEALTH", "CALLS", "ERR", "P50", "P95", "P99", "TTFT P50", "COST")))
	for _, m := range o.Models {
		h := fmt.Sprintf("%-9s", m.Health)
		switch m.Health {
		case "ok":
			h = t.paint(ansiGreen, h)
		case "degraded":
			h = t.paint(ansiYellow, h)
		case "failing":
			h = t.paint(ansiRed, h)
		default:
			h = t.paint(ansiDim, h)
		}
		fmt.Fprintf(&b, " %-18s %s %7d %7s %9s %9s %9s %9s %10s\n", topClip(m.Model, 18), h, m.Attempts, topPct(m.ErrorRate),
			topMillis(m.LatencyMS.P50), topMillis(m.LatencyMS.P95), topMillis(m.LatencyMS.P99), topMillis(m.TTFTMS.P50), topUSD(m.CostUSD))
	}
	b.WriteString("\n")
	var gates []string
	for _, g := range o.Gates {
		gates = append(gates, fmt.Sprintf("%s pass %s (%d/%d)", g.Gate, topPct(g.PassRate), g.Pass, g.Pass+g.Fail))
	}
	if len(gates) == 0 {
		gates = []string{t.paint(ansiDim, "no verdicts")}
	}
	fmt.Fprintf(&b, " %s %s\n", t.paint(ansiCyan, "GATES  "), strings.Join(gates, "   "))
	steps := o.Cascade.Accept + o.Cascade.Escalate
	casc := t.paint(ansiDim, "no cascade steps")
	if steps > 0 {
		casc = fmt.Sprintf("escalated %s (%d of %d steps)", topPct(o.Cascade.EscalationShare), o.Cascade.Escalate, steps)
	}
	fmt.Fprintf(&b, " %s %s\n", t.paint(ansiCyan, "CASCADE"), casc)
	if l := o.DecisionLog; l != nil {
		dropped := fmt.Sprint(l.Dropped)
		if l.Dropped > 0 {
			dropped = t.paint(ansiRed, dropped)
		}
		fmt.Fprintf(&b, " %s written %d  dropped %s  queued %d\n", t.paint(ansiCyan, "LOG    "), l.Written, dropped, l.Queued)
	}
	fmt.Fprintf(&b, " %s\n", t.paint(ansiDim, fmt.Sprintf("since start: %d requests, %s spent, %s saved", o.Lifetime.Requests, topUSD(o.Lifetime.CostUSD), topUSD(o.Lifetime.SavingsUSD))))
	return b.String()
}

func topWindow(s int) string {
	if s%60 == 0 {
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}

func topPct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

func topUSD(v float64) string {
	a := v
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	switch {
	case a == 0:
		return "$0"
	case a >= 100:
		return fmt.Sprintf("%s$%.0f", sign, a)
	case a >= 1:
		return fmt.Sprintf("%s$%.2f", sign, a)
	case a >= 0.01:
		return fmt.Sprintf("%s$%.3f", sign, a)
	}
	return fmt.Sprintf("%s$%.6f", sign, a)
}

func topMillis(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}

func topOrDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func topClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
