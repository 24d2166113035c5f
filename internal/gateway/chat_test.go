package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// completion is the part of a chat.completion body the tests read.
type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
	Sextant *extensionWire `json:"sextant"`
}

// extensionWire is the "sextant" member as a client reads it.
type extensionWire struct {
	RequestID string     `json:"request_id"`
	Route     string     `json:"route"`
	Kind      string     `json:"kind"`
	Model     string     `json:"model"`
	CostUSD   string     `json:"cost_usd"`
	Usage     llm.Usage  `json:"usage"`
	Trace     trace.View `json:"trace"`
}

// attemptCost sums the attempts' costs as the trace shows them.
func (x *extensionWire) attemptCost() catalog.Micros {
	var c catalog.Micros
	for _, a := range x.Trace.Attempts {
		c += a.CostMicros
	}
	return c
}

// demoPrompt is the first prompt of the builtin demo data set, which the
// replayed gpt-4 answers.
const demoPrompt = "James decides to run 3 sprints 3 times a week.  He runs 60 meters each sprint.  How many total meters does he run a week?"

// TestChatSuccess checks a non-streaming answer for routes, models and
// replayed models: status, headers, body and the recorded decision.
func TestChatSuccess(t *testing.T) {
	tests := []struct {
		name      string
		model     string
		prompt    string
		wantModel string
		wantKind  string
		attempts  int
	}{
		{"model by name", "small", "hello there", "small", "model", 1},
		{"route with failover", "auto", "hello there", "small", "route", 2},
		{"rules route default", "tiered", "hello there", "small", "route", 1},
		{"replayed model", "gpt-4", demoPrompt, "gpt-4", "model", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testConfig, nil)
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody(tt.model, tt.prompt, ""), map[string]string{HeaderTrace: "1"})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			h := w.Header()
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			id := h.Get("X-Request-Id")
			if !uuidRE.MatchString(id) {
				t.Errorf("X-Request-Id = %q", id)
			}
			if got := h.Get(HeaderRoute); got != tt.model {
				t.Errorf("%s = %q, want %q", HeaderRoute, got, tt.model)
			}
			if got := h.Get(HeaderModel); got != tt.wantModel {
				t.Errorf("%s = %q, want %q", HeaderModel, got, tt.wantModel)
			}
			cost := h.Get(HeaderCost)
			if !usdRE.MatchString(cost) {
				t.Errorf("%s = %q, want dollars with six decimals", HeaderCost, cost)
			}
			var c completion
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, w.Body)
			}
			if c.Object != "chat.completion" || len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" ||
				c.Choices[0].Message.Content == "" || c.Choices[0].FinishReason == "" {
				t.Errorf("completion = %+v", c)
			}
			if c.Usage.TotalTokens == 0 || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
				t.Errorf("usage = %+v", c.Usage)
			}
			x := c.Sextant
			if x == nil {
				t.Fatal("no sextant member although x-sextant-trace: 1 was sent")
			}
			if x.RequestID != id || x.Route != tt.model || x.Kind != tt.wantKind || x.Model != tt.wantModel {
				t.Errorf("extension = %+v", x)
			}
			if len(x.Trace.Attempts) != tt.attempts {
				t.Errorf("%d attempts, want %d: %+v", len(x.Trace.Attempts), tt.attempts, x.Trace.Attempts)
			}
			if len(x.Trace.Decisions) == 0 {
				t.Error("no decisions in the trace")
			}
			// The header, the extension and the sum over the attempts agree.
			if x.CostUSD != cost || x.attemptCost().String() != cost {
				t.Errorf("cost header %q, extension %q, attempts %s", cost, x.CostUSD, x.attemptCost())
			}
			d := f.rec.only(t)
			if d.RequestID != id || d.Route != tt.model || d.Model != tt.wantModel || d.Status != 200 || d.ErrorType != "" {
				t.Errorf("decision = %+v", d)
			}
			if d.CostMicros.String() != cost || d.Usage != x.Usage {
				t.Errorf("decision cost %s usage %+v; header %s, extension usage %+v", d.CostMicros, d.Usage, cost, x.Usage)
			}
		})
	}
}

// TestCostHeaderIsPriced checks the cost header against the price list:
// the usage the client sees times the model's prices.
func TestCostHeaderIsPriced(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("big", "price me", ""), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var c completion
	json.Unmarshal(w.Body.Bytes(), &c)
	m := f.eng.Snapshot().Models["big"]
	want := m.Price.Cost(llm.Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens})
	if want == 0 {
		t.Fatal("test config prices too low to see a cost")
	}
	if got := w.Header().Get(HeaderCost); got != want.String() {
		t.Errorf("%s = %q, want %q for usage %+v", HeaderCost, got, want, c.Usage)
	}
}

// TestTraceOnlyWhenAsked checks that the sextant member appears only for
// x-sextant-trace: 1, and that the body is otherwise a plain completion.
func TestTraceOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{{"", false}, {"0", false}, {"true", false}, {"yes", false}, {"1", true}} {
		t.Run("value "+tt.value, func(t *testing.T) {
			f := newFixture(t, testConfig, nil)
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("small", "hi", ""), map[string]string{HeaderTrace: tt.value})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &top); err != nil {
				t.Fatalf("body: %v", err)
			}
			if _, got := top["sextant"]; got != tt.want {
				t.Errorf("sextant member present = %v, want %v", got, tt.want)
			}
			// The member is appended last and the object stays valid.
			if tt.want && !strings.HasSuffix(strings.TrimSpace(w.Body.String()), "}}") {
				t.Errorf("body does not end with the extension object: %s", w.Body)
			}
		})
	}
}

// TestErrorAfterRouting checks failures that happen in the tree: the error
// is OpenAI-shaped, the route header and the cost of the failed attempts
// are set, and the decision records the status and error type.
func TestErrorAfterRouting(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("down", "hello", ""), nil)
	e := checkError(t, w, http.StatusBadGateway)
	if w.Code == http.StatusServiceUnavailable {
		t.Log("503 from the sim is passed on as is")
	}
	if e.Error.Type != llm.TypeUpstream {
		t.Errorf("type = %q, want %q", e.Error.Type, llm.TypeUpstream)
	}
	if got := w.Header().Get(HeaderRoute); got != "down" {
		t.Errorf("%s = %q", HeaderRoute, got)
	}
	if got := w.Header().Get(HeaderCost); got != "0.000000" {
		t.Errorf("%s = %q, want 0.000000 for a refused call", HeaderCost, got)
	}
	d := f.rec.only(t)
	if d.Status != w.Code || d.ErrorType != e.Error.Type || d.ErrorMessage != e.Error.Message || d.Model != "" {
		t.Errorf("decision = %+v, response %d %+v", d, w.Code, e.Error)
	}
}

// TestUnknownModelRecorded checks that a request for a model that does
// not exist is recorded with its 404.
func TestUnknownModelRecorded(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("nope", "hello", ""), nil)
	checkError(t, w, http.StatusNotFound)
	d := f.rec.only(t)
	if d.Status != 404 || d.Route != "nope" || d.ErrorType != llm.TypeNotFound || len(d.Trace.Attempts) != 0 {
		t.Errorf("decision = %+v", d)
	}
}
