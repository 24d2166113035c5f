package cascade

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy/hold"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// attempt returns the trace's attempts on model.
func attempts(tr *trace.Trace, model string) []trace.Attempt {
	var out []trace.Attempt
	for _, a := range tr.Snapshot().Attempts {
		if a.Model == model {
			out = append(out, a)
		}
	}
	return out
}

// TestStreamHoldBack checks that a judged tier's stream is held until the
// gates decide: the client sees only the accepted tier's content, the
// rejected stream is read, closed and paid for once, and the last tier
// streams live.
func TestStreamHoldBack(t *testing.T) {
	models := fleet()
	e := newEnv(models)
	n := e.build(t, `{"gates":{"test":{"scores":{"weak":0.2}}},"tiers":[{"route":"weak","check_every":0},"strong"]}`)
	c := e.Call(true)
	out, err := n.Serve(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	// The weak stream was read to its end before anything was returned.
	if w := models["weak"]; w.Sent.Load() != w.StreamLen.Load() || w.Closed.Load() != 1 {
		t.Fatalf("weak stream: sent %d of %d chunks, closed %d", w.Sent.Load(), w.StreamLen.Load(), w.Closed.Load())
	}
	if _, held := out.Stream.(*hold.Replay); held {
		t.Fatal("the last tier's stream was held back, want it live")
	}
	// Live: the strong stream has sent only its first chunk so far.
	if got := models["strong"].Sent.Load(); got != 1 {
		t.Fatalf("strong stream sent %d chunks before the client read any, want 1 (the commit point)", got)
	}
	text, _ := policytest.Drain(t, out.Stream)
	if text != models["strong"].Text {
		t.Fatalf("client got %q", text)
	}
	weak := attempts(c.Trace, "weak")
	if len(weak) != 1 || weak[0].Outcome != trace.OutcomeOK || weak[0].Usage != models["weak"].Usage() {
		t.Fatalf("weak attempts %+v, want one ok with the upstream's usage", weak)
	}
	policytest.CheckLedger(t, c.Trace, map[string]int{"weak": 1, "strong": 1})
}

// TestStreamReplay checks that an accepted held-back stream reaches the
// client chunk for chunk as the upstream sent it, usage chunk last, and
// that its usage is counted once.
func TestStreamReplay(t *testing.T) {
	models := fleet()
	models["weak"].ChunkSize = 3
	e := newEnv(models)
	n := e.build(t, `{"gates":{"test":{}},"tiers":["weak","strong"]}`)
	c := e.Call(true)
	out, err := n.Serve(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Model != "weak" {
		t.Fatalf("answered by %s", out.Model)
	}
	usageBefore, costBefore := c.Trace.Totals()
	text, chunks := policytest.Drain(t, out.Stream)
	if text != models["weak"].Text {
		t.Fatalf("client got %q", text)
	}
	if int64(len(chunks)) != models["weak"].StreamLen.Load() {
		t.Fatalf("client got %d chunks, upstream sent %d", len(chunks), models["weak"].StreamLen.Load())
	}
	last := chunks[len(chunks)-1]
	if last.Usage == nil || *last.Usage != models["weak"].Usage() {
		t.Fatalf("last chunk %+v, want the usage chunk", last)
	}
	usageAfter, costAfter := c.Trace.Totals()
	if usageAfter != usageBefore || costAfter != costBefore || costAfter <= 0 {
		t.Fatalf("replaying changed the ledger: %v/%d before, %v/%d after", usageBefore, costBefore, usageAfter, costAfter)
	}
	// Closing again is harmless.
	if err := out.Stream.Close(); err != nil {
		t.Fatal(err)
	}
	policytest.CheckLedger(t, c.Trace, map[string]int{"weak": 1, "strong": 0})
}

func TestStreamPrefix(t *testing.T) {
	tests := []struct {
		name  string
		gates string
		want  string // the answering model
		// early is true when the weak stream must have been decided
		// before its end.
		early bool
		// prefix is the decision recorded for the prefix, "" for none.
		prefix string
	}{
		{"a refusal in the prefix escalates at once", `{"test":{"forbid":"weak"}}`, "strong", true, "escalate"},
		{"all fails for good when one child does", `{"all":[{"test":{"name":"whole"}},{"test":{"name":"refusal","forbid":"weak"}}]}`, "strong", true, "escalate"},
		{"a required phrase accepts the prefix", `{"test":{"require":"model"}}`, "weak", true, "accept"},
		{"all waits for children that cannot judge a prefix", `{"all":[{"test":{"name":"whole","scores":{"weak":0.9}}},{"test":{"name":"phrase","require":"model"}}]}`, "weak", false, ""},
		{"weighted waits for every child", `{"weighted":{"threshold":0.6,"gates":[{"gate":{"test":{"name":"whole"}}},{"gate":{"test":{"name":"refusal","forbid":"weak"}}}]}}`, "strong", false, ""},
		{"gates that cannot judge prefixes wait for the end", `{"test":{"scores":{"weak":0.1}}}`, "strong", false, ""},
		{"a clean answer is judged whole", `{"test":{"forbid":"refuse"}}`, "weak", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			models := fleet()
			models["weak"].Text = "the weak model says " + strings.Repeat("four ", 20)
			models["weak"].ChunkSize = 4
			e := newEnv(models)
			n := e.build(t, `{"tiers":[{"route":"weak","check_every":8,"gates":`+tt.gates+`},"strong"]}`)
			c := e.Call(true)
			out, err := n.Serve(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if out.Model != tt.want {
				t.Fatalf("answered by %s, want %s", out.Model, tt.want)
			}
			w := models["weak"]
			if early := w.Sent.Load() < w.StreamLen.Load(); early != tt.early {
				t.Fatalf("weak stream sent %d of %d chunks when the cascade decided; want early=%v", w.Sent.Load(), w.StreamLen.Load(), tt.early)
			}
			var prefix []string
			for _, d := range c.Trace.Snapshot().Decisions {
				if d.Kind == "cascade" && d.Data["prefix"] == true {
					prefix = append(prefix, d.Decision)
				}
			}
			if want := []string{tt.prefix}; tt.prefix != "" && !slices.Equal(prefix, want) || tt.prefix == "" && prefix != nil {
				t.Fatalf("prefix decisions %v, want %q", prefix, tt.prefix)
			}
			text, _ := policytest.Drain(t, out.Stream)
			if text != models[tt.want].Text {
				t.Fatalf("client got %q, want %q", text, models[tt.want].Text)
			}
			weak := attempts(c.Trace, "weak")
			if len(weak) != 1 {
				t.Fatalf("weak attempts %+v", weak)
			}
			switch {
			case tt.early && tt.want == "strong":
				// Closed early: canceled, with the tokens seen so far
				// counted.
				if weak[0].Outcome != trace.OutcomeCanceled || weak[0].Usage.CompletionTokens == 0 {
					t.Fatalf("weak attempt %+v, want canceled with its tokens so far", weak[0])
				}
			default:
				if weak[0].Outcome != trace.OutcomeOK || weak[0].Usage != w.Usage() {
					t.Fatalf("weak attempt %+v, want ok with the upstream's usage", weak[0])
				}
			}
			for m, f := range models {
				if f.Opened.Load() != f.Closed.Load() {
					t.Errorf("%s: %d streams opened, %d closed", m, f.Opened.Load(), f.Closed.Load())
				}
			}
			calls := map[string]int{"weak": 1, "strong": 0}
			if tt.want == "strong" {
				calls["strong"] = 1
			}
			policytest.CheckLedger(t, c.Trace, calls)
		})
	}
}

// TestStripsWhatGatesAdded checks that logprobs a gate asked for reach the
// gate but not the client.
func TestStripsWhatGatesAdded(t *testing.T) {
	for _, stream := range []bool{false, true} {
		models := fleet()
		e := newEnv(models)
		n := e.build(t, `{"gates":{"test":{"logprobs":true}},"tiers":["weak","strong"]}`)
		c := e.Call(stream)
		out, err := n.Serve(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if r := models["weak"].LastRequest(); r == nil || !r.Logprobs {
			t.Fatalf("stream=%v: the weak model was not asked for logprobs: %+v", stream, r)
		}
		if c.Request.Logprobs {
			t.Fatal("the client's request was changed")
		}
		if stream {
			_, chunks := policytest.Drain(t, out.Stream)
			for _, ch := range chunks {
				for _, cc := range ch.Choices {
					if cc.Logprobs != nil {
						t.Fatalf("client got logprobs in %+v", ch)
					}
				}
			}
		} else if out.Response.Choices[0].Logprobs != nil {
			t.Fatal("client got logprobs")
		}
	}
	// The unjudged last tier gets the client's request.
	models := fleet()
	e := newEnv(models)
	n := e.build(t, `{"gates":{"test":{"logprobs":true,"scores":{"weak":0}}},"tiers":["weak","strong"]}`)
	if _, err := n.Serve(t.Context(), e.Call(false)); err != nil {
		t.Fatal(err)
	}
	if models["strong"].LastRequest().Logprobs {
		t.Fatal("the last tier was asked for logprobs no gate reads")
	}
}

// TestBrokenStreamEscalates checks that a held stream that breaks before
// its end counts as the tier's error.
func TestBrokenStreamEscalates(t *testing.T) {
	models := fleet()
	models["weak"].BreakAfter = 2
	e := newEnv(models)
	n := e.build(t, `{"gates":{"test":{}},"tiers":["weak","strong"]}`)
	c := e.Call(true)
	out, err := n.Serve(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Model != "strong" {
		t.Fatalf("answered by %s", out.Model)
	}
	policytest.Drain(t, out.Stream)
	if got := decisions(c.Trace, "cascade"); !slices.Equal(got, []string{"escalate@routes.r.cascade.tiers[0]", "accept@routes.r.cascade.tiers[1]"}) {
		t.Fatalf("decisions %v", got)
	}
	if w := attempts(c.Trace, "weak"); len(w) != 1 || w[0].Outcome != trace.OutcomeError {
		t.Fatalf("weak attempts %+v", w)
	}
	if models["weak"].Opened.Load() != models["weak"].Closed.Load() {
		t.Fatal("the broken stream was not closed")
	}
}

// TestCancel checks that the end of the context stops the cascade at once,
// wherever it waits, closes what it opened and escalates nowhere.
func TestCancel(t *testing.T) {
	tests := []struct {
		name   string
		stream bool
		cfg    string
		hang   bool // the weak model hangs
	}{
		{"waiting for a whole answer", false, `{"gates":{"test":{}},"tiers":["weak","strong"]}`, true},
		{"reading a held stream", true, `{"gates":{"test":{}},"tiers":["weak","strong"]}`, true},
		{"in a gate", false, `{"gates":{"test":{"block":true}},"tiers":["weak","strong"]}`, false},
		{"in a gate judging a stream", true, `{"gates":{"test":{"block":true}},"tiers":["weak","strong"]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			models := fleet()
			if tt.hang {
				models["weak"].HangAfter = 1
			}
			e := newEnv(models)
			n := e.build(t, tt.cfg)
			c := e.Call(tt.stream)
			ctx, cancel := contextWithCancel(t)
			time.AfterFunc(20*time.Millisecond, cancel)
			out, err := n.Serve(ctx, c)
			if err == nil {
				t.Fatalf("Serve returned %+v after the context ended", out)
			}
			if llm.ClassOf(err) != llm.ClassCanceled {
				t.Fatalf("err %v (class %v), want canceled", err, llm.ClassOf(err))
			}
			var le *llm.Error
			if !errors.As(err, &le) || le.Status != 499 {
				t.Fatalf("err %#v, want status 499", err)
			}
			if models["strong"].Calls.Load() != 0 {
				t.Fatal("the cascade escalated after the context ended")
			}
			for m, f := range models {
				if f.Opened.Load() != f.Closed.Load() {
					t.Errorf("%s: %d streams opened, %d closed", m, f.Opened.Load(), f.Closed.Load())
				}
			}
			for _, a := range c.Trace.Snapshot().Attempts {
				if a.Outcome == trace.OutcomePending {
					t.Errorf("attempt %+v left pending", a)
				}
			}
		})
	}
}
