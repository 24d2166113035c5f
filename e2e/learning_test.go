package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sextant-router/sextant/internal/redistest"
)

// learningConfig is a bandit over two sim models that differ only in the
// feedback they will get. The decision log and the bandit's statistics
// live in sextant.db beside the config.
func learningConfig(redisAddr, prefix string) string {
	cfg := `
models:
  - {name: good, provider: sim, upstream: g, price: {input: 1, output: 2}, options: {ttft: 1ms, tokens_per_second: 100000, output_tokens: 5}}
  - {name: bad, provider: sim, upstream: b, price: {input: 1, output: 2}, options: {ttft: 1ms, tokens_per_second: 100000, output_tokens: 5}}
routes:
  learned:
    bandit: {arms: [good, bad], name: e2e-bandit, seed: 7}
`
	if redisAddr != "" {
		cfg += `state: {redis: {addr: "` + redisAddr + `", prefix: "` + prefix + `:", sync: 50ms}}` + "\n"
	}
	return cfg
}

// banditDecision is the bandit's trace decision as GET /v1/decisions
// returns it.
type banditDecision struct {
	Model string `json:"model"`
	Trace struct {
		Decisions []struct {
			Kind string `json:"kind"`
			Data struct {
				Arm  string `json:"arm"`
				Arms []struct {
					Name  string  `json:"name"`
					Mean  float64 `json:"mean"`
					Pulls float64 `json:"pulls"`
				} `json:"arms"`
			} `json:"data"`
		} `json:"decisions"`
	} `json:"trace"`
}

// pulls returns each arm's observation count as the bandit saw it when it
// decided request id.
func pulls(c *client, id string) map[string]float64 {
	c.t.Helper()
	c.decision(id, nil) // wait until it is logged
	var d banditDecision
	c.getJSON("/v1/decisions/"+id, http.StatusOK, &d)
	for _, dec := range d.Trace.Decisions {
		if dec.Kind == "bandit" {
			out := map[string]float64{}
			for _, a := range dec.Data.Arms {
				out[a.Name] = a.Pulls
			}
			return out
		}
	}
	c.t.Fatalf("request %s has no bandit decision", id)
	return nil
}

// teach sends n requests to the learned route and rates each answer: 1
// from good, 0 from bad. It returns how many went to good among the last
// half and the last request's id.
func teach(c *client, n int) (goodInLastHalf int, lastID string) {
	c.t.Helper()
	for i := range n {
		resp, b := c.postJSON("/v1/chat/completions", chatBody("learned", "What is 2+2?", false))
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("chat = %d: %s", resp.StatusCode, b)
		}
		var out struct {
			Model string `json:"model"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatal(err)
		}
		id := resp.Header.Get("X-Request-Id")
		d := c.decision(id, nil)
		score := 0.0
		if d.Model == "good" {
			score = 1
			if i >= n/2 {
				goodInLastHalf++
			}
		}
		resp, b = c.postJSON("/v1/feedback", map[string]any{"request_id": id, "score": score})
		if resp.StatusCode != http.StatusOK {
			c.t.Fatalf("feedback = %d: %s", resp.StatusCode, b)
		}
		lastID = id
	}
	return goodInLastHalf, lastID
}

// TestBanditLearnsFromFeedbackAcrossRestart: feedback posted by request id
// teaches the bandit to prefer the well-rated model, and its statistics
// survive a restart on the same decision store.
func TestBanditLearnsFromFeedbackAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "sextant.yaml", learningConfig("", ""))
	p := startProc(t, dir, nil, "serve", "--config", path, "--addr", "127.0.0.1:0")
	good, last := teach(p.client, 40)
	if good < 15 {
		t.Errorf("good answered %d of the last 20 requests, want at least 15", good)
	}
	// One more request sees every feedback counted.
	_, probe := teach(p.client, 1)
	before := pulls(p.client, probe)
	if total := before["good"] + before["bad"]; total < 40 {
		t.Fatalf("bandit counted %v observations after 41 rated requests (last %s), want >= 40", before, last)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("sextant exited %d", code)
	}

	q := startProc(t, dir, nil, "serve", "--config", path, "--addr", "127.0.0.1:0")
	_, id := teach(q.client, 1)
	after := pulls(q.client, id)
	if after["good"] < before["good"] || after["bad"] < before["bad"] {
		t.Errorf("after a restart the bandit saw %v, want at least %v", after, before)
	}
}

// TestBanditSharedAcrossReplicas: two replicas on one Redis learn as one;
// feedback given on one replica for its request reaches the statistics
// the other decides with.
func TestBanditSharedAcrossReplicas(t *testing.T) {
	addr := redistest.Start(t)
	prefix := strings.ReplaceAll(t.Name(), "/", "_")
	a := startConfig(t, learningConfig(addr, prefix))
	b := startConfig(t, learningConfig(addr, prefix))
	teach(a.client, 30)
	// b has served nothing; after a few syncs its decisions count a's
	// observations.
	var seen map[string]float64
	for range 100 {
		_, id := teach(b.client, 1)
		seen = pulls(b.client, id)
		if seen["good"]+seen["bad"] >= 30 {
			return
		}
	}
	t.Errorf("replica b saw %v observations, want a's 30 counted", seen)
}

// TestExperimentStatsOverHTTP: a split's per-arm statistics fill from
// served requests and feedback and are read at GET /v1/experiments/{name};
// an unknown experiment is an OpenAI-style 404.
func TestExperimentStatsOverHTTP(t *testing.T) {
	p := startConfig(t, `
models:
  - {name: cheap, provider: sim, upstream: c, price: {input: 1, output: 1}, options: {ttft: 1ms, tokens_per_second: 100000, output_tokens: 5}}
  - {name: dear, provider: sim, upstream: d, price: {input: 10, output: 10}, options: {ttft: 1ms, tokens_per_second: 100000, output_tokens: 5}}
routes:
  ab:
    split: {key: user, arms: [{name: control, route: dear}, {name: treatment, route: cheap}]}
`)
	const n = 40
	for i := range n {
		body := chatBody("ab", "Name a colour.", false)
		body["user"] = "user-" + strconv.Itoa(i)
		resp, b := p.postJSON("/v1/chat/completions", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chat = %d: %s", resp.StatusCode, b)
		}
		id := resp.Header.Get("X-Request-Id")
		p.decision(id, nil)
		if resp, b := p.postJSON("/v1/feedback", map[string]any{"request_id": id, "score": 0.5}); resp.StatusCode != http.StatusOK {
			t.Fatalf("feedback = %d: %s", resp.StatusCode, b)
		}
	}
	var rep struct {
		Name string `json:"name"`
		Arms []struct {
			Name           string  `json:"name"`
			Requests       float64 `json:"requests"`
			CostPerRequest struct {
				Mean float64 `json:"mean"`
			} `json:"cost_per_request"`
			Feedback struct {
				N    float64 `json:"n"`
				Mean float64 `json:"mean"`
			} `json:"feedback"`
		} `json:"arms"`
		Comparisons []struct {
			Metric string `json:"metric"`
		} `json:"comparisons"`
	}
	p.getJSON("/v1/experiments/ab", http.StatusOK, &rep)
	var requests, feedback float64
	for _, a := range rep.Arms {
		requests += a.Requests
		feedback += a.Feedback.N
		if a.Requests > 0 && a.Feedback.Mean != 0.5 {
			t.Errorf("arm %s feedback mean = %v, want 0.5", a.Name, a.Feedback.Mean)
		}
	}
	if rep.Name != "ab" || len(rep.Arms) != 2 || requests != n || feedback != n {
		t.Fatalf("experiment = %+v, want 2 arms with %d requests and %d scores in all", rep, n, n)
	}
	if len(rep.Comparisons) == 0 {
		t.Error("no comparison of the treatment with the control")
	}
	resp, b := p.do(http.MethodGet, "/v1/experiments/nope", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown experiment = %d: %s", resp.StatusCode, b)
	}
	parseError(t, b)
}
