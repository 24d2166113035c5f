package ui

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/experiment"
)

// fakeExperiment is an experiment with fixed statistics.
type fakeExperiment struct{ arms []experiment.ArmInput }

func (f fakeExperiment) Report(now time.Time) experiment.Report {
	arms, cmp := experiment.Analyze(f.arms, 0.95)
	return experiment.Report{Name: "ui-test-ab", Key: "user", Confidence: 0.95, Arms: arms, Comparisons: cmp,
		Promotion: &experiment.PromotionView{Metric: "cost", Status: "no arm has won yet"}}
}

func (fakeExperiment) Ramp(*float64, map[string]float64) error { return nil }

func registerFake(t *testing.T) {
	t.Helper()
	mk := func(cost float64, n int) experiment.Stats {
		v := make([]float64, experiment.Len)
		for i := range n {
			experiment.Observation{Status: 200, CostUSD: cost * (0.5 + float64(i%10)/10), LatencyMS: float64(100 + i%50)}.Add(v)
			experiment.FeedbackDelta(v, float64(i%2), nil)
		}
		return experiment.Parse(v)
	}
	experiment.Default.Register("ui-test-ab", fakeExperiment{[]experiment.ArmInput{
		{Name: "control", Share: 0.5, Stats: mk(0.01, 400)}, {Name: "cheap", Share: 0.5, Stats: mk(0.008, 400)}}})
}

func TestExperimentsAPI(t *testing.T) {
	registerFake(t)
	e := newEnv(t, testSnapshot("admin-key", false), false)
	if resp, _ := e.do("GET", "/ui/api/experiments", "", nil); resp.StatusCode != 401 {
		t.Fatalf("without the key: %d", resp.StatusCode)
	}
	resp, body := e.do("GET", "/ui/api/experiments", "", map[string]string{"Authorization": "Bearer admin-key"})
	var out struct{ Experiments []experiment.Report }
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var got *experiment.Report
	for i := range out.Experiments {
		if out.Experiments[i].Name == "ui-test-ab" {
			got = &out.Experiments[i]
		}
	}
	if got == nil || len(got.Arms) != 2 || len(got.Comparisons) != 4 {
		t.Fatalf("experiments %s", body)
	}
}

// TestExperimentsPanelRenders loads the dashboard in headless Chromium
// (skipped without it) and checks the panel shows the experiment's arms
// and its significant cost comparison.
func TestExperimentsPanelRenders(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" || testing.Short() {
		t.Skip("chromium is not installed")
	}
	registerFake(t)
	e := newEnv(t, testSnapshot("", false), false) // open dashboard: no keys at all
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=8000", "--dump-dom", e.srv.URL+"/ui/").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	i := strings.Index(dom, `id="experiments"`)
	if i < 0 {
		t.Fatalf("no experiments panel in the page")
	}
	panel := dom[i:]
	if j := strings.Index(panel, "</section>"); j > 0 {
		panel = panel[:j]
	}
	for _, want := range []string{`data-name="ui-test-ab"`, `data-arm="control"`, `data-arm="cheap"`, "cheap vs control · cost", "significant", "Auto-promotion on cost"} {
		if !strings.Contains(panel, want) {
			t.Errorf("panel lacks %q:\n%s", want, panel)
		}
	}
}
