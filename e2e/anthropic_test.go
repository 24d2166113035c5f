package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
)

// TestAnthropicSDK drives POST /v1/messages with the official Anthropic Go
// SDK: the same routes and models as OpenAI clients, whole and streamed,
// with Anthropic-shaped errors.
func TestAnthropicSDK(t *testing.T) {
	t.Parallel()
	p := startConfig(t, `
models:
  - {name: sim-a, provider: sim, price: {input: 3, output: 15}, options: {reply: "hello from {{.Model}}", realtime: false}}
  - {name: sim-down, provider: sim, max_retries: 0, options: {realtime: false, error_rate: 1}}
routes:
  auto: {fallback: [sim-down, sim-a]}
`)
	c := p.with(t)
	client := anthropic.NewClient(aoption.WithBaseURL(c.base), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{
		Model: "auto", MaxTokens: 256,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello."))},
	}

	t.Run("message", func(t *testing.T) {
		var resp *http.Response
		msg, err := client.Messages.New(ctx(t), params, aoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "hello from sim-a" || msg.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("message = %+v", msg)
		}
		if msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 || string(msg.Model) != "auto" {
			t.Errorf("usage %+v model %q", msg.Usage, msg.Model)
		}
		if resp.Header.Get("X-Sextant-Model") != "sim-a" || resp.Header.Get("X-Sextant-Route") != "auto" || resp.Header.Get("X-Sextant-Cost-Usd") == "" {
			t.Errorf("headers = %v", resp.Header)
		}
	})

	t.Run("stream", func(t *testing.T) {
		stream := client.Messages.NewStreaming(ctx(t), params)
		defer stream.Close()
		var acc anthropic.Message
		var types []string
		for stream.Next() {
			ev := stream.Current()
			types = append(types, ev.Type)
			if err := acc.Accumulate(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Content) != 1 || acc.Content[0].Text != "hello from sim-a" || acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens == 0 {
			t.Errorf("accumulated %+v", acc)
		}
		if types[0] != "message_start" || types[len(types)-1] != "message_stop" {
			t.Errorf("events %v", types)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad := params
		bad.Model = "no-such-route"
		_, err := client.Messages.New(ctx(t), bad)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || !strings.Contains(ae.RawJSON(), `"not_found_error"`) {
			t.Errorf("unknown route: %v", err)
		}
		resp, body := c.do(http.MethodPost, "/v1/messages", "application/json", strings.NewReader(`{"model":"auto","messages":[]}`))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"type":"error"`) || !strings.Contains(string(body), `"invalid_request_error"`) {
			t.Errorf("bad request: %d %s", resp.StatusCode, body)
		}
	})
}
