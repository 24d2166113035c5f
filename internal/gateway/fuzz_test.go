package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzChatCompletions sends arbitrary bodies through the whole handler:
// whatever the body, the server must not panic, must answer 200 with a
// completion or an event stream, or an error in the OpenAI shape, and must
// record one decision per routed request.
func FuzzChatCompletions(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"model":"small"}`, `{"model":"small","messages":[]}`,
		chatBody("small", "hi", ""), chatBody("auto", "hi", `"stream":true`),
		chatBody("small", "hi", `"stream":true,"stream_options":{"include_usage":true}`),
		chatBody("brittle", "hi", `"stream":true`), chatBody("nope", "hi", ""), chatBody("gpt-4", demoPrompt, ""),
		chatBody("small", "hi", `"temperature":9`), chatBody("small", "hi", `"n":2`), chatBody("small", "hi", `"max_tokens":1`),
		`{"model":"small","model":"big","messages":[{"role":"user","content":"x"}]}`,
	} {
		f.Add(s)
	}
	fx := newFixture(f, testConfig, nil)
	f.Fuzz(func(t *testing.T, body string) {
		before := len(fx.rec.all())
		w := fx.do(http.MethodPost, "/v1/chat/completions", body, map[string]string{HeaderTrace: "1"})
		switch ct := w.Header().Get("Content-Type"); {
		case w.Code != http.StatusOK:
			checkError(t, w, w.Code)
		case ct == "text/event-stream":
			events := sseEvents(t, w.Body.String())
			last := events[len(events)-1]
			if last != "[DONE]" && !strings.HasPrefix(last, `{"error":`) {
				t.Errorf("stream ends with %q", last)
			}
		case ct == "application/json":
			var c completion
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.Object != "chat.completion" || c.Sextant == nil {
				t.Errorf("200 body %s: %v", w.Body, err)
			}
		default:
			t.Errorf("200 with Content-Type %q", ct)
		}
		routed := w.Header().Get(HeaderRoute) != ""
		if got := len(fx.rec.all()) - before; (got == 1) != routed || got > 1 {
			t.Errorf("%d decisions recorded for a request that was routed=%v", got, routed)
		}
	})
}
