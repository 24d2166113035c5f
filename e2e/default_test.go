package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/respjson"

	"github.com/sextant-router/sextant/internal/config"
)

// TestDefaultConfig serves the embedded default config (no --config) and
// checks what a first-time user sees: health, the model list, and recorded
// answers through the auto route, plain, streamed and traced. The subtests
// share one server and run in order.
func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	demo := shortestDemo(t)
	p := startDefault(t)

	t.Run("health", func(t *testing.T) {
		c := p.with(t)
		var health struct{ Status string }
		c.getJSON("/healthz", http.StatusOK, &health)
		if health.Status != "ok" {
			t.Errorf("/healthz status = %q, want ok", health.Status)
		}
		var ready struct {
			Status string
			Models int
			Routes int
		}
		c.getJSON("/readyz", http.StatusOK, &ready)
		if ready.Status != "ready" || ready.Models == 0 || ready.Routes == 0 {
			t.Errorf("/readyz = %+v, want ready with models and routes", ready)
		}
	})

	t.Run("models", func(t *testing.T) {
		c := p.with(t)
		page, err := c.sdk.Models.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][2]string{} // id -> kind, source
		for _, m := range page.Data {
			if m.Object != "model" || m.OwnedBy == "" {
				t.Errorf("%s: object %q, owned_by %q", m.ID, m.Object, m.OwnedBy)
			}
			got[m.ID] = [2]string{extraString(t, m.JSON.ExtraFields, "kind"), extraString(t, m.JSON.ExtraFields, "source")}
		}
		want := defaultModelList(t)
		// The other subtests rely on these.
		for _, id := range []string{"auto", "gpt-4", "mixtral", "sim-small"} {
			if _, ok := want[id]; !ok {
				t.Fatalf("the default config lacks %s", id)
			}
		}
		for id, w := range want {
			if g, ok := got[id]; !ok {
				t.Errorf("%s missing from /v1/models", id)
			} else if g != w {
				t.Errorf("%s: kind, source = %q, %q; want %q, %q", id, g[0], g[1], w[0], w[1])
			}
		}
		if len(got) != len(want) {
			t.Errorf("/v1/models lists %d entries, want %d: %v", len(got), len(want), got)
		}

		m, err := c.sdk.Models.Get(ctx(t), "gpt-4")
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != "gpt-4" || extraString(t, m.JSON.ExtraFields, "source") != "replay" {
			t.Errorf("GET /v1/models/gpt-4 = %s", m.RawJSON())
		}
		_, err = c.sdk.Models.Get(ctx(t), "gpt-5")
		if apiErr := asAPIError(t, err); apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" {
			t.Errorf("GET /v1/models/gpt-5: status %d, code %q; want 404 model_not_found", apiErr.StatusCode, apiErr.Code)
		}
	})

	t.Run("chat", func(t *testing.T) {
		c := p.with(t)
		var raw *http.Response
		cc, err := c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
			Model:    "auto",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(demo.Prompt)},
		}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		model := checkHeaders(t, raw.Header, "auto", false)
		want, ok := demo.Answers[model]
		if !ok {
			t.Fatalf("auto answered %s with %q, not with a replayed model", demo.ID, model)
		}
		if len(cc.Choices) != 1 {
			t.Fatalf("%d choices", len(cc.Choices))
		}
		if got := cc.Choices[0].Message.Content; got != want {
			t.Errorf("answer to %s from %s =\n%q\nwant the recorded\n%q", demo.ID, model, got, want)
		}
		if cc.Choices[0].FinishReason != "stop" {
			t.Errorf("finish_reason = %q, want stop", cc.Choices[0].FinishReason)
		}
		if cc.Usage.PromptTokens == 0 || cc.Usage.CompletionTokens == 0 ||
			cc.Usage.TotalTokens != cc.Usage.PromptTokens+cc.Usage.CompletionTokens {
			t.Errorf("usage = %+v", cc.Usage)
		}
		if cc.JSON.ExtraFields["sextant"].Raw() != "" {
			t.Error("a response without x-sextant-trace carries the sextant member")
		}
	})

	// The default config's auto route sends premium callers to gpt-4,
	// here through the allowed x-tier header.
	t.Run("premium header", func(t *testing.T) {
		c := p.with(t)
		var raw *http.Response
		cc, err := c.sdk.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{
			Model:    "auto",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(demo.Prompt)},
		}, option.WithResponseInto(&raw), option.WithHeader("X-Tier", "premium"))
		if err != nil {
			t.Fatal(err)
		}
		if model := checkHeaders(t, raw.Header, "auto", false); model != "gpt-4" {
			t.Fatalf("x-sextant-model = %q, want gpt-4 for a premium caller", model)
		}
		if got, want := cc.Choices[0].Message.Content, demo.Answers["gpt-4"]; got != want {
			t.Errorf("answer =\n%q\nwant gpt-4's recorded\n%q", got, want)
		}
	})

	t.Run("stream", func(t *testing.T) {
		c := p.with(t)
		var raw *http.Response
		st := c.sdk.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{
			Model:         "auto",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(demo.Prompt)},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		}, option.WithResponseInto(&raw))
		defer st.Close()
		var (
			acc    openai.ChatCompletionAccumulator
			text   strings.Builder
			usages int
		)
		for st.Next() {
			ch := st.Current()
			if !acc.AddChunk(ch) {
				t.Errorf("the SDK's accumulator rejected chunk %s", ch.RawJSON())
			}
			for _, choice := range ch.Choices {
				text.WriteString(choice.Delta.Content)
			}
			if ch.JSON.Usage.Valid() {
				usages++
				if len(ch.Choices) != 0 || ch.Usage.CompletionTokens == 0 {
					t.Errorf("usage chunk = %s", ch.RawJSON())
				}
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		model := raw.Header.Get("X-Sextant-Model")
		want, ok := demo.Answers[model]
		if !ok {
			t.Fatalf("auto streamed %s from %q, not from a replayed model", demo.ID, model)
		}
		if text.String() != want {
			t.Errorf("streamed answer =\n%q\nwant the recorded\n%q", text.String(), want)
		}
		if got := acc.Choices[0].Message.Content; got != want {
			t.Errorf("accumulated answer =\n%q\nwant\n%q", got, want)
		}
		if usages != 1 || acc.Usage.TotalTokens == 0 {
			t.Errorf("%d usage chunks, accumulated usage %+v; want one", usages, acc.Usage)
		}
	})

	t.Run("stream trailer", func(t *testing.T) {
		c := p.with(t)
		resp, events := c.stream(chatBody("auto", demo.Prompt, true))
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		if len(events) < 2 || events[len(events)-1] != "[DONE]" {
			t.Fatalf("stream does not end with [DONE]: %q", events)
		}
		if resp.Header.Get("X-Sextant-Cost-Usd") != "" {
			t.Error("the stream's cost is sent as a header, before it is known")
		}
		cost := resp.Trailer.Get("X-Sextant-Cost-Usd")
		if usd, err := strconv.ParseFloat(cost, 64); err != nil || usd <= 0 {
			t.Errorf("cost trailer = %q, want a positive number of dollars", cost)
		}
		checkIDs(t, resp.Header, "auto")
	})

	t.Run("trace", func(t *testing.T) {
		c := p.with(t)
		resp, b := c.postJSON("/v1/chat/completions", chatBody("auto", demo.Prompt, false), "X-Sextant-Trace", "1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var body struct {
			Choices []struct {
				Message struct{ Content string }
			}
			Usage   usage
			Sextant *extension
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		ext := body.Sextant
		if ext == nil {
			t.Fatalf("no sextant member in %s", b)
		}
		id := resp.Header.Get("X-Request-Id")
		if ext.RequestID != id || ext.Route != "auto" || ext.Kind != "route" || ext.Model != resp.Header.Get("X-Sextant-Model") {
			t.Errorf("sextant = %+v; want request %s, route auto, kind route, model %s", ext, id, resp.Header.Get("X-Sextant-Model"))
		}
		if ext.CostUSD != resp.Header.Get("X-Sextant-Cost-Usd") {
			t.Errorf("sextant.cost_usd = %q, header %q", ext.CostUSD, resp.Header.Get("X-Sextant-Cost-Usd"))
		}
		if ext.Usage.TotalTokens != body.Usage.TotalTokens {
			t.Errorf("sextant.usage = %+v, response usage %+v", ext.Usage, body.Usage)
		}
		if len(ext.Trace.Decisions) == 0 || len(ext.Trace.Attempts) != 1 || ext.Trace.Attempts[0].Outcome != "ok" ||
			ext.Trace.Attempts[0].Model != ext.Model || ext.Trace.Attempts[0].Provider != "replay" {
			t.Errorf("trace = %+v; want decisions and one ok replay attempt", ext.Trace)
		}

		d := c.decision(id, nil)
		if d.RequestID != id || d.Route != "auto" || d.Model != ext.Model || d.Status != http.StatusOK || d.Stream {
			t.Errorf("decision = %+v", d)
		}
		if d.Usage.TotalTokens != ext.Usage.TotalTokens || d.CostMicros <= 0 || len(d.Trace.Attempts) != 1 {
			t.Errorf("decision usage %+v, cost %d µ$, %d attempts; want usage %+v, a cost, 1 attempt",
				d.Usage, d.CostMicros, len(d.Trace.Attempts), ext.Usage)
		}

		score := 0.9
		resp, b = c.postJSON("/v1/feedback", map[string]any{"request_id": id, "score": score, "label": "good", "comment": "right answer"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("feedback for a known request: %d %s", resp.StatusCode, b)
		}
		resp, b = c.postJSON("/v1/feedback", map[string]any{"request_id": "no-such-request", "score": score})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("feedback for an unknown request: %d %s, want 404", resp.StatusCode, b)
		} else {
			parseError(t, b)
		}
		resp, b = c.do(http.MethodGet, "/v1/decisions/no-such-request", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /v1/decisions/no-such-request = %d %s, want 404", resp.StatusCode, b)
		} else {
			parseError(t, b)
		}
	})

	t.Run("stream trace", func(t *testing.T) {
		c := p.with(t)
		var raw *http.Response
		st := c.sdk.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{
			Model:    "auto",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(demo.Prompt)},
		}, option.WithResponseInto(&raw), option.WithHeader("X-Sextant-Trace", "1"))
		defer st.Close()
		var last openai.ChatCompletionChunk
		for st.Next() {
			last = st.Current()
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		f := last.JSON.ExtraFields["sextant"]
		if len(last.Choices) != 0 || f.Raw() == "" {
			t.Fatalf("last chunk = %s; want no choices and a sextant member", last.RawJSON())
		}
		var ext extension
		if err := json.Unmarshal([]byte(f.Raw()), &ext); err != nil {
			t.Fatal(err)
		}
		if ext.RequestID != raw.Header.Get("X-Request-Id") || ext.Model != raw.Header.Get("X-Sextant-Model") ||
			len(ext.Trace.Attempts) != 1 || !ext.Trace.Attempts[0].Stream || ext.Trace.Attempts[0].Outcome != "ok" {
			t.Errorf("sextant = %+v", ext)
		}
		d := c.decision(ext.RequestID, nil)
		if !d.Stream || d.Status != http.StatusOK || d.Usage.CompletionTokens == 0 {
			t.Errorf("decision = %+v", d)
		}
	})
}

// defaultModelList is what GET /v1/models should list for the embedded
// default config: id -> kind, source.
func defaultModelList(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := config.Parse(config.DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{}
	for name := range f.Routes {
		want[name] = [2]string{"route", ""}
	}
	for _, m := range f.Models {
		source := "live"
		if m.Provider == "replay" || m.Provider == "sim" {
			source = m.Provider
		}
		want[m.Name] = [2]string{"model", source}
	}
	return want
}

// checkHeaders checks the headers of a chat completion through route and
// returns the model that answered. A stream's cost comes later, as a
// trailer (see the "stream trailer" test).
func checkHeaders(t *testing.T, h http.Header, route string, stream bool) string {
	t.Helper()
	checkIDs(t, h, route)
	if stream {
		return h.Get("X-Sextant-Model")
	}
	cost := h.Get("X-Sextant-Cost-Usd")
	if usd, err := strconv.ParseFloat(cost, 64); err != nil || usd <= 0 {
		t.Errorf("x-sextant-cost-usd = %q, want a positive number of dollars", cost)
	}
	return h.Get("X-Sextant-Model")
}

func checkIDs(t *testing.T, h http.Header, route string) {
	t.Helper()
	if h.Get("X-Request-Id") == "" {
		t.Error("no x-request-id")
	}
	if got := h.Get("X-Sextant-Route"); got != route {
		t.Errorf("x-sextant-route = %q, want %q", got, route)
	}
	if h.Get("X-Sextant-Model") == "" {
		t.Error("no x-sextant-model")
	}
}

// stream POSTs a streaming request and reads it to the end, trailers
// included.
func (c *client) stream(body any, header ...string) (*http.Response, []string) {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx(c.t), http.MethodPost, c.base+"/v1/chat/completions", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("stream: status %d", resp.StatusCode)
	}
	events, err := newSSEReader(resp.Body).all()
	if err != nil {
		c.t.Fatalf("stream: %v after %q", err, events)
	}
	return resp, events
}

// extraString returns the string value of an extra member of an SDK type.
func extraString(t *testing.T, extra map[string]respjson.Field, name string) string {
	t.Helper()
	// The SDK marks members it has no field for as present but not
	// Valid; Raw holds their JSON.
	f, ok := extra[name]
	if !ok || f.Raw() == "" || f.Raw() == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal([]byte(f.Raw()), &s); err != nil {
		t.Errorf("%s = %s, not a string", name, f.Raw())
	}
	return s
}

// asAPIError wants err to be the SDK's *openai.Error.
func asAPIError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v (%T), want *openai.Error", err, err)
	}
	return apiErr
}
