package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/experiment"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/tally"
)

const experimentConfig = testConfig + `
  abtest:
    split:
      key: user
      arms:
        - {name: control, route: big}
        - {name: cheap, route: small}
keys:
  - {name: alice, key_env: KEY_ALICE}
admin: {key_env: ADMIN_KEY}
`

var experimentEnv = map[string]string{"KEY_ALICE": "sk-alice-0123456789", "ADMIN_KEY": "admin-secret-0123"}

func TestExperimentsAPI(t *testing.T) {
	f := newFixture(t, experimentConfig, experimentEnv)
	alice := map[string]string{"Authorization": "Bearer sk-alice-0123456789"}
	admin := map[string]string{"Authorization": "Bearer admin-secret-0123"}
	for i := range 20 {
		w := f.do("POST", "/v1/chat/completions", chatBody("abtest", "hello", fmt.Sprintf(`"user":"u%d"`, i)), alice)
		if w.Code != 200 {
			t.Fatalf("chat: %d %s", w.Code, w.Body)
		}
		d := f.rec.wait(t)
		learning.Default.Finished(&d)
	}

	w := f.do("GET", "/v1/experiments/abtest", "", alice)
	if w.Code != 200 {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	var rep experiment.Report
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Name != "abtest" || rep.Route != "abtest" || rep.Key != "user" || len(rep.Arms) != 2 {
		t.Fatalf("report %s", w.Body)
	}
	if got := rep.Arms[0].Requests + rep.Arms[1].Requests; got < 20 {
		t.Errorf("requests %v, want at least 20", got)
	}
	if rep.Arms[0].CostPerRequest.Mean <= rep.Arms[1].CostPerRequest.Mean && rep.Arms[1].Requests > 0 && rep.Arms[0].Requests > 0 {
		t.Errorf("big should cost more than small: %+v", rep.Arms)
	}

	w = f.do("GET", "/v1/experiments", "", alice)
	var list struct {
		Data []experiment.Report `json:"data"`
	}
	json.Unmarshal(w.Body.Bytes(), &list)
	found := false
	for _, r := range list.Data {
		found = found || r.Name == "abtest"
	}
	if w.Code != 200 || !found {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}

	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
	}{
		{"anonymous get", "GET", "/v1/experiments/abtest", "", nil, http.StatusUnauthorized},
		{"anonymous list", "GET", "/v1/experiments", "", nil, http.StatusUnauthorized},
		{"unknown", "GET", "/v1/experiments/nope", "", alice, http.StatusNotFound},
		{"ramp with a client key", "POST", "/v1/experiments/abtest", `{"share":0.2}`, alice, http.StatusUnauthorized},
		{"ramp bad share", "POST", "/v1/experiments/abtest", `{"share":2}`, admin, http.StatusBadRequest},
		{"ramp bad json", "POST", "/v1/experiments/abtest", `{`, admin, http.StatusBadRequest},
		{"ramp unknown", "POST", "/v1/experiments/nope", `{"share":0.2}`, admin, http.StatusNotFound},
		{"delete", "DELETE", "/v1/experiments/abtest", "", admin, http.StatusMethodNotAllowed},
		{"ramp unknown field", "POST", "/v1/experiments/abtest", `{"share":0.2,"arm":"x"}`, admin, http.StatusBadRequest},
		{"ramp trailing data", "POST", "/v1/experiments/abtest", `{"share":0.2} {}`, admin, http.StatusBadRequest},
		{"ramp", "POST", "/v1/experiments/abtest", `{"share":0.2}`, admin, http.StatusOK},
	}
	for _, tt := range tests {
		w := f.do(tt.method, tt.path, tt.body, tt.header)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, w.Code, tt.status, w.Body)
		}
		if tt.status == http.StatusNotFound {
			var e wireError
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Type != "not_found_error" {
				t.Errorf("%s: not an OpenAI error: %s", tt.name, w.Body)
			}
		}
	}
	w = f.do("GET", "/v1/experiments/abtest", "", alice)
	json.Unmarshal(w.Body.Bytes(), &rep)
	if rep.Arms[1].Share != 0.2 {
		t.Errorf("after the ramp the cheap arm's share is %v", rep.Arms[1].Share)
	}
}

// Once an experiment has promoted its winner, a ramp is refused with 409:
// it would change nothing.
func TestRampAfterPromotion(t *testing.T) {
	f := newFixture(t, experimentConfig, experimentEnv)
	admin := map[string]string{"Authorization": "Bearer admin-secret-0123"}
	key := "experiment/abtest/promotion"
	b, _ := json.Marshal(experiment.Promotion{Winner: "cheap", Metric: "cost", Time: time.Now().UTC()})
	if err := tally.Default.Put(key, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tally.Default.Put(key, nil) })
	w := f.do("POST", "/v1/experiments/abtest", `{"share":0.5}`, admin)
	var e wireError
	if w.Code != http.StatusConflict || json.Unmarshal(w.Body.Bytes(), &e) != nil || string(e.Error.Code) != `"experiment_promoted"` {
		t.Fatalf("ramp after promotion = %d %s, want 409 experiment_promoted", w.Code, w.Body)
	}
}
