package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashboardConfig is the embedded default fleet (sim and replayed models)
// plus the random router between the replayed models, an admin key and a
// reports directory holding that route's eval report.
const dashboardExtra = `
  # The random router between the recorded models, for the eval curve.
  random:
    split: {share: 0.5, a: gpt-4, b: mixtral}
admin: {key_env: SEXTANT_ADMIN_KEY}
ui: {reports_dir: reports}
`

const adminKey = "e2e-admin-key"

// chromium returns Debian's chromium, or "" when it is not installed.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && v != "false"
}

// artifactDir is where the browser test leaves its screenshots:
// $SEXTANT_ARTIFACTS, or sextant-artifacts in the temp directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("SEXTANT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sextant-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser runs `sextant serve` on the sim fleet under a
// little load, opens /ui in headless Chromium, logs in with the admin key,
// and checks that the charts render live numbers, that a decision's trace
// opens and takes feedback, and that the page logs no console errors. It
// saves screenshots as test artefacts.
func TestDashboardInBrowser(t *testing.T) {
	browser := chromium()
	if browser == "" {
		if inCI() {
			t.Fatal("chromium is not installed; .ci/run installs it with apt-get")
		}
		t.Skip("chromium is not installed (apt-get install chromium); the browser test needs it")
	}
	dir := t.TempDir()
	base, err := exec.Command(sextantBin, "config", "default").Output()
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "sextant.yaml", string(base)+dashboardExtra)
	env := []string{"SEXTANT_ADMIN_KEY=" + adminKey}

	// The eval report of the random route, as an operator would make it.
	dataset, err := filepath.Abs(filepath.Join("..", "internal", "dataset", "demo", "demo.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ev := exec.Command(sextantBin, "eval", "--config", cfg, "--route", "random", "--dataset", dataset, "--sweep", "--out", filepath.Join(dir, "reports", "random"))
	ev.Env = append(cleanEnv(), env...)
	if out, err := ev.CombinedOutput(); err != nil {
		t.Fatalf("sextant eval: %v\n%s", err, out)
	}

	p := startProc(t, dir, env, "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	stopLoad := load(t, p)
	defer stopLoad()
	// Let some requests finish so the first frame has numbers.
	waitFor(t, 60*time.Second, func() bool {
		var o struct {
			Window struct{ Requests int } `json:"window"`
		}
		resp, b := p.do("GET", "/ui/api/overview", "", nil, "Authorization", "Bearer "+adminKey)
		return resp.StatusCode == 200 && json.Unmarshal(b, &o) == nil && o.Window.Requests >= 12
	})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first Run starts the browser and must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Collect console errors, exceptions and browser log errors.
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(bctx)
	cctx, stopConsole := context.WithCancel(bctx)
	var consoleDone sync.WaitGroup
	consoleDone.Go(func() {
		for m, err := range messages {
			if err != nil || cctx.Err() != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	})
	defer func() { stopConsole(); cancelBrowser(); consoleDone.Wait() }()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	// Log in through the form, as a person would.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(p.base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), adminKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
	); err != nil {
		t.Fatalf("login: %v", err)
	}

	// The charts render with live numbers: wait until every panel has
	// drawn from data, then read what it shows.
	const ready = `(() => {
	  const q = s => document.querySelectorAll(s);
	  const rps = parseFloat(document.querySelector('#kpi-rps .value').textContent);
	  return rps > 0 && q('#chart-traffic path.line').length >= 2 && q('#chart-cost path.line').length >= 2 &&
	    q('#mix .bar div').length > 0 && q('#models tbody tr').length > 0 && q('#decisions tbody tr[data-id]').length > 0 &&
	    q('#chart-eval circle.pt').length > 3 && q('#experiments [data-name="random"] tbody tr[data-arm]').length == 2;
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("the dashboard did not render live numbers: %v\n%s", err, html)
	}
	type shownT struct {
		RPS, Cost, Savings string
		TrafficPath        string
		MixRoutes          []string
		Models             int
		Decisions          int
		EvalPoints         int
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[shownT](`({
	  RPS: document.querySelector('#kpi-rps .value').textContent,
	  Cost: document.querySelector('#kpi-cpr .value').textContent,
	  Savings: document.querySelector('#kpi-savings .value').textContent,
	  TrafficPath: document.querySelector('#chart-traffic path.line').getAttribute('d'),
	  MixRoutes: [...document.querySelectorAll('#mix .row')].filter(r => r.querySelector('.bar div')).map(r => r.dataset.route),
	  Models: document.querySelectorAll('#models tbody tr').length,
	  Decisions: document.querySelectorAll('#decisions tbody tr[data-id]').length,
	  EvalPoints: document.querySelectorAll('#chart-eval circle.pt').length,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard shows: %+v", shown)
	if !strings.HasPrefix(shown.Cost, "$") || shown.Cost == "$0" || !strings.HasSuffix(shown.Savings, "%") ||
		strings.Count(shown.TrafficPath, "L") < 10 || len(shown.MixRoutes) < 3 || shown.Models < 5 {
		t.Errorf("dashboard numbers look wrong: %+v", shown)
	}

	artifacts := artifactDir(t)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// A decision's trace opens, and feedback given there is stored.
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#decisions tbody tr[data-id]`), "data-id"))
	if err != nil || attr.Value == "" {
		t.Fatalf("first decision row: %v", err)
	}
	id := attr.Value
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#decisions tbody tr[data-id=%q]`, id))),
		chromedp.WaitVisible(chromedp.CSS(`#drawer.open .wf .bs`)),
	); err != nil {
		t.Fatalf("open the trace of %s: %v", id, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#drawer-body h3`)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#drawer-body`)))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#drawer .wf .bs').length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, id) || !strings.Contains(title, "→") || bars < 2 {
		t.Errorf("trace drawer for %s: title %q, %d bars", id, title, bars)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("fb-label"), "good"),
		chromedp.SendKeys(chromedp.ID("fb-score"), "1"),
		chromedp.Click(chromedp.CSS(`form.fb button[type=submit]`)),
	); err != nil {
		t.Fatalf("feedback: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#drawer-body').textContent.includes('Feedback (1)')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("feedback did not show: %v", err)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifacts, "dashboard-trace.png"), png, 0o644)
	}
	var fb struct {
		Feedback []struct{ Label string } `json:"feedback"`
	}
	p.getJSON("/ui/api/decisions/"+id, 401, nil) // the API needs the key
	resp, b := p.do("GET", "/ui/api/decisions/"+id, "", nil, "Authorization", "Bearer "+adminKey)
	if resp.StatusCode != 200 || json.Unmarshal(b, &fb) != nil || len(fb.Feedback) != 1 || fb.Feedback[0].Label != "good" {
		t.Errorf("feedback not stored: %d %s", resp.StatusCode, b)
	}

	// Let a few refreshes run, then check the console stayed clean.
	chromedp.Do(ctx, chromedp.Sleep(2500*time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(problems, "\n"))
	}
}

// load sends a little traffic to the server's routes until stopped: a
// request every 100ms, at most 8 at once, a third of them streamed.
func load(t *testing.T, p *proc) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	routes := []string{"auto", "economy", "premium", "resilient", "random"}
	prompts := []string{
		"What is the capital of France?",
		"Write a python function that sorts a list and explain each step.",
		// Recorded in the bundled demo data, so the replayed models of
		// the random route answer it.
		"James decides to run 3 sprints 3 times a week.  He runs 60 meters each sprint.  How many total meters does he run a week?",
	}
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				continue
			}
			route, prompt := routes[i%len(routes)], prompts[i%len(prompts)]
			if route == "random" {
				prompt = prompts[2]
			}
			body := map[string]any{"model": route, "stream": i%3 == 0,
				"messages": []map[string]string{{"role": "user", "content": prompt}}}
			wg.Go(func() {
				defer func() { <-sem }()
				b, _ := json.Marshal(body)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/v1/chat/completions", bytes.NewReader(b))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if resp, err := p.http.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
	})
	return func() { cancel(); wg.Wait() }
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
