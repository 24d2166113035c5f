package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// fallbackConfig backs a model that always fails (and is not retried) with
// a healthy one that answers with a fixed template.
const fallbackConfig = `
store: {path: decisions.db}
models:
  - name: sim-down
    provider: sim
    max_retries: 0
    price: {input: 10, output: 30}
    options: {seed: 1, realtime: false, error_rate: 1}
  - name: sim-up
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 2, realtime: false, reply: "fallback answered: {{.Prompt}}"}
routes:
  resilient:
    fallback: [sim-down, sim-up]
`

// TestFallback sends requests through a route whose first model always
// fails: the answer comes from the second, and the trace and the decision
// log show the failed attempt.
func TestFallback(t *testing.T) {
	t.Parallel()
	p := startConfig(t, fallbackConfig)
	const prompt = "hello fallback"
	const want = "fallback answered: " + prompt

	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "chat", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			c := p.with(t)
			params := openai.ChatCompletionNewParams{
				Model:    "resilient",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			}
			var (
				raw    *http.Response
				text   string
				extRaw string
			)
			opts := []option.RequestOption{option.WithResponseInto(&raw), option.WithHeader("X-Sextant-Trace", "1")}
			if stream {
				st := c.sdk.Chat.Completions.NewStreaming(ctx(t), params, opts...)
				var b strings.Builder
				for st.Next() {
					ch := st.Current()
					for _, choice := range ch.Choices {
						b.WriteString(choice.Delta.Content)
					}
					extRaw = ch.JSON.ExtraFields["sextant"].Raw()
				}
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
				st.Close()
				text = b.String()
			} else {
				cc, err := c.sdk.Chat.Completions.New(ctx(t), params, opts...)
				if err != nil {
					t.Fatal(err)
				}
				text = cc.Choices[0].Message.Content
				extRaw = cc.JSON.ExtraFields["sextant"].Raw()
			}

			if text != want {
				t.Errorf("answer = %q, want %q from the fallback", text, want)
			}
			if model := checkHeaders(t, raw.Header, "resilient", stream); model != "sim-up" {
				t.Errorf("x-sextant-model = %q, want sim-up", model)
			}
			var ext extension
			if err := json.Unmarshal([]byte(extRaw), &ext); err != nil {
				t.Fatalf("sextant member %q: %v", extRaw, err)
			}
			checkFallbackTrace(t, ext.Trace, stream)

			d := p.with(t).decision(raw.Header.Get("X-Request-Id"), nil)
			if d.Status != http.StatusOK || d.Model != "sim-up" || d.Route != "resilient" || d.Stream != stream {
				t.Errorf("decision = %+v", d)
			}
			checkFallbackTrace(t, d.Trace, stream)
		})
	}
}

// checkFallbackTrace wants one failed, unretried attempt on sim-down and
// one good attempt on sim-up.
func checkFallbackTrace(t *testing.T, tr traceView, stream bool) {
	t.Helper()
	if len(tr.Attempts) != 2 {
		t.Fatalf("%d attempts, want 2: %+v", len(tr.Attempts), tr.Attempts)
	}
	down, up := tr.Attempts[0], tr.Attempts[1]
	if down.Model != "sim-down" || down.Try != 1 || down.Outcome != "error" || (down.Status != 500 && down.Status != 503) ||
		down.ErrorClass != "transient" || down.Error == "" || down.Stream != stream || down.CostMicros != 0 {
		t.Errorf("first attempt = %+v; want sim-down failing once with a transient 500 or 503 at no cost", down)
	}
	if up.Model != "sim-up" || up.Outcome != "ok" || up.Status != 200 || up.Usage.CompletionTokens == 0 || up.CostMicros <= 0 {
		t.Errorf("second attempt = %+v; want sim-up answering", up)
	}
	fallbacks := 0
	for _, d := range tr.Decisions {
		if d.Kind == "fallback" {
			fallbacks++
		}
	}
	if fallbacks == 0 {
		t.Errorf("no fallback decision in %+v", tr.Decisions)
	}
}
