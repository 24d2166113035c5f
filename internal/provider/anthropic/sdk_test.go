package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
	"github.com/sextant-router/sextant/internal/provider/upstream"
	"github.com/sextant-router/sextant/internal/sse"
)

// The fixtures are the Messages API's wire format: the official SDK
// decodes them, and what its accumulator makes of each complete stream is
// what the adapter's chunks add up to.
func TestStreamFixturesAgreeWithSDK(t *testing.T) {
	files, err := filepath.Glob("testdata/stream/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			body := providertest.ReadFile(t, file)

			var want sdk.Message
			complete := false
			events := sse.NewReader(bytes.NewReader(body))
			for {
				ev, err := events.Next()
				if err != nil {
					break
				}
				var u sdk.MessageStreamEventUnion
				if err := json.Unmarshal([]byte(ev.Data), &u); err != nil {
					t.Fatalf("the SDK cannot decode %s: %v", ev.Data, err)
				}
				if u.Type == "error" {
					break
				}
				if err := want.Accumulate(u); err != nil {
					t.Fatalf("the SDK rejects the event sequence: %v", err)
				}
				complete = complete || u.Type == "message_stop"
			}
			if !complete {
				t.Skip("not a complete stream")
			}

			ctx, cancel := context.WithCancel(t.Context())
			s := newStream(&Provider{model: "test-model", now: func() time.Time { return testNow }},
				upstream.NewBody(ctx, cancel, io.NopCloser(bytes.NewReader(body))))
			defer s.Close()
			var text strings.Builder
			var args []string
			var finish string
			var usage *llm.Usage
			for {
				ch, err := s.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if ch.Usage != nil {
					usage = ch.Usage
				}
				for _, c := range ch.Choices {
					text.WriteString(c.Delta.Content)
					if c.FinishReason != "" {
						finish = c.FinishReason
					}
					for _, tc := range c.Delta.ToolCalls {
						for len(args) <= tc.Index {
							args = append(args, "")
						}
						args[tc.Index] += tc.Function.Arguments
					}
				}
			}

			var wantText strings.Builder
			var wantArgs []string
			for _, cb := range want.Content {
				switch cb.Type {
				case "text":
					wantText.WriteString(cb.Text)
				case "tool_use":
					wantArgs = append(wantArgs, string(cb.Input))
				}
			}
			if text.String() != wantText.String() {
				t.Errorf("text %q, the SDK has %q", text.String(), wantText.String())
			}
			if strings.Join(args, "|") != strings.Join(wantArgs, "|") {
				t.Errorf("tool arguments %q, the SDK has %q", args, wantArgs)
			}
			sr := string(want.StopReason)
			if finish != finishReason(&sr) {
				t.Errorf("finish_reason %q for stop_reason %q", finish, sr)
			}
			u := want.Usage
			prompt := int(u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens)
			if usage == nil || usage.PromptTokens != prompt || usage.CompletionTokens != int(u.OutputTokens) ||
				usage.CachedTokens != int(u.CacheReadInputTokens) {
				t.Errorf("usage %+v, the SDK has %+v", usage, u)
			}
		})
	}
}

func TestResponseFixturesAgreeWithSDK(t *testing.T) {
	files, err := filepath.Glob("testdata/chat/*.resp.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			body := providertest.ReadFile(t, file)
			var want sdk.Message
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("the SDK cannot decode the fixture: %v", err)
			}
			var wr messageResponse
			if err := json.Unmarshal(body, &wr); err != nil {
				t.Fatal(err)
			}
			got := wr.llm(0)
			var wantText strings.Builder
			for _, cb := range want.Content {
				if cb.Type == "text" {
					wantText.WriteString(cb.Text)
				}
			}
			if got.ID != want.ID || got.Model != string(want.Model) || got.Text() != wantText.String() {
				t.Errorf("response %+v, the SDK has id %s model %s text %q", got, want.ID, want.Model, wantText.String())
			}
			if got.Usage.CompletionTokens != int(want.Usage.OutputTokens) || got.Usage.CachedTokens != int(want.Usage.CacheReadInputTokens) {
				t.Errorf("usage %+v, the SDK has %+v", got.Usage, want.Usage)
			}
		})
	}
}
