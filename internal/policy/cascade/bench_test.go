package cascade

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	_ "github.com/sextant-router/sextant/internal/gate/learned"
	_ "github.com/sextant-router/sextant/internal/gate/structure"
	_ "github.com/sextant-router/sextant/internal/gate/validator"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// instantExec answers every call at once with canned answers, so that the
// benchmarks measure the cascade alone: no executor, no provider.
type instantExec struct {
	resp   map[string]*llm.Response
	chunks map[string][]*llm.Chunk
}

func (x *instantExec) Call(_ context.Context, _ *policy.Call, model string, req *llm.Request) (*policy.Outcome, error) {
	if req.Stream {
		return &policy.Outcome{Model: model, Stream: &sliceStream{chunks: x.chunks[model]}}, nil
	}
	return &policy.Outcome{Model: model, Response: x.resp[model]}, nil
}

func (x *instantExec) Embed(context.Context, *policy.Call, string, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	return nil, fmt.Errorf("no embeddings")
}

func (x *instantExec) Model(string) (*catalog.Model, bool) { return nil, false }

type sliceStream struct {
	chunks []*llm.Chunk
	next   int
}

func (s *sliceStream) Recv() (*llm.Chunk, error) {
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	s.next++
	return s.chunks[s.next-1], nil
}

func (s *sliceStream) Close() error { return nil }

func newInstant(text string, nChunks int) *instantExec {
	x := &instantExec{resp: map[string]*llm.Response{}, chunks: map[string][]*llm.Chunk{}}
	for _, m := range []string{"weak", "strong"} {
		x.resp[m] = &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: text}, FinishReason: llm.FinishStop}},
			Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 100, TotalTokens: 110}}
		per := len(text) / nChunks
		var cs []*llm.Chunk
		for i := 0; i < nChunks; i++ {
			cs = append(cs, &llm.Chunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: text[i*per : (i+1)*per]}}}})
		}
		u := x.resp[m].Usage
		cs = append(cs, &llm.Chunk{Choices: []llm.ChunkChoice{{FinishReason: llm.FinishStop}}}, &llm.Chunk{Usage: &u})
		x.chunks[m] = cs
	}
	return x
}

// BenchmarkServe measures what the cascade adds to a request with one
// trivial gate: building the answer, running and recording the gates,
// recording the decisions, and for streams holding and replaying the
// chunks (an answer of 2,000 characters in 100 chunks).
func BenchmarkServe(b *testing.B) {
	text := ""
	for len(text) < 2000 {
		text += "forty two is the answer. "
	}
	text = text[:2000]
	cases := []struct {
		name   string
		cfg    string
		stream bool
	}{
		{"accept", `{"gates":{"test":{}},"tiers":["weak","strong"]}`, false},
		{"escalate", `{"gates":{"test":{"scores":{"weak":0.1}}},"tiers":["weak","strong"]}`, false},
		{"stream_accept", `{"gates":{"test":{}},"tiers":[{"route":"weak","check_every":0},"strong"]}`, true},
		{"stream_prefix_checks", `{"gates":{"test":{}},"tiers":[{"route":"weak","check_every":256},"strong"]}`, true},
		{"stream_escalate", `{"gates":{"test":{"scores":{"weak":0.1}}},"tiers":["weak","strong"]}`, true},
	}
	e := newEnv(fleet())
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			n := e.build(b, tc.cfg)
			x := newInstant(text, 100)
			req := &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}, Stream: tc.stream}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c := &policy.Call{Request: req, Exec: x, Trace: trace.New(time.Now())}
				out, err := n.Serve(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				if out.Stream != nil {
					for {
						if _, err := out.Stream.Recv(); err != nil {
							break
						}
					}
					out.Stream.Close()
				}
			}
		})
	}
}

// BenchmarkExampleGates measures a cascade with the gates of the GSM8K
// example route (learned, validator, structure; examples/eval/gsm8k.yaml)
// judging a recorded Mixtral answer and accepting it: the whole cost a
// cascade adds to a request before the client gets the answer.
func BenchmarkExampleGates(b *testing.B) {
	const answer = "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4, " +
		"so she uses 3 + 4 = <<3+4=7>>7 eggs.\nThat leaves 16 - 7 = <<16-7=9>>9 eggs to sell.\n" +
		"She sells each egg for $2, so she makes 9 * 2 = $<<9*2=18>>18 every day at the farmers' market.\n#### 18"
	e := newEnv(fleet())
	cfg := `{"threshold":0,"tiers":[{"route":"weak","gates":{"weighted":{"gates":[
		{"gate":{"learned":{"model":"../../../examples/models/gsm8k.gate.json"}},"weight":2},
		{"gate":{"validator":{"arithmetic":{},"final_answer":{}}}},
		{"gate":{"structure":{"max_hedges":0}}}]}}},"strong"]}`
	n := e.build(b, cfg)
	x := newInstant(answer, 10)
	req := &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser, Content: "Janet’s ducks lay 16 eggs per day. " +
		"She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder " +
		"at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := &policy.Call{Request: req, Exec: x, Trace: trace.New(time.Now())}
		if _, err := n.Serve(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
