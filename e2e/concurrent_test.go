package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestConcurrentClients runs many clients at once, streaming and not,
// through a failing-over route and straight to a model. Each must get its
// own answer and its own decision record; under -race the server is built
// with the race detector, so a data race in it fails the test.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	p := startConfig(t, fallbackConfig)
	const clients, requests = 16, 4

	type result struct {
		id, want string
		stream   bool
	}
	results := make(chan result, clients*requests)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for j := range requests {
				prompt := fmt.Sprintf("client %d request %d", i, j)
				model := []string{"resilient", "sim-up"}[j%2]
				stream := i%2 == 0
				got, id, err := ask(t, p.client, model, prompt, stream)
				if err != nil {
					t.Errorf("%s (stream %v): %v", prompt, stream, err)
					continue
				}
				want := "fallback answered: " + prompt
				if got != want {
					t.Errorf("%s: answer %q, want %q", prompt, got, want)
				}
				results <- result{id: id, want: want, stream: stream}
			}
		})
	}
	wg.Wait()
	close(results)

	seen := map[string]bool{}
	for r := range results {
		if seen[r.id] {
			t.Errorf("request id %s given twice", r.id)
		}
		seen[r.id] = true
		d := p.with(t).decision(r.id, nil)
		if d.Status != http.StatusOK || d.Stream != r.stream || d.Model != "sim-up" {
			t.Errorf("decision %s = %+v", r.id, d)
		}
	}
}

// ask sends one chat completion through the SDK and returns the answer and
// the request id. It does not fail the test, so it may run in goroutines.
func ask(t *testing.T, c *client, model, prompt string, stream bool) (answer, id string, err error) {
	var raw *http.Response
	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
	if !stream {
		cc, err := c.sdk.Chat.Completions.New(ctx(t), params, option.WithResponseInto(&raw))
		if err != nil {
			return "", "", err
		}
		return cc.Choices[0].Message.Content, raw.Header.Get("X-Request-Id"), nil
	}
	st := c.sdk.Chat.Completions.NewStreaming(ctx(t), params, option.WithResponseInto(&raw))
	defer st.Close()
	var b strings.Builder
	for st.Next() {
		for _, choice := range st.Current().Choices {
			b.WriteString(choice.Delta.Content)
		}
	}
	if err := st.Err(); err != nil {
		return "", "", err
	}
	return b.String(), raw.Header.Get("X-Request-Id"), nil
}
