package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
)

func init() { provider.Register("sim", New) }

// Defaults of the options.
var (
	defaultTTFT         = Latency{P50: 200 * time.Millisecond, P99: 800 * time.Millisecond}
	defaultOutputTokens = TokenRange{Min: 20, Max: 200}
)

const (
	defaultTokensPerSecond = 50.0
	defaultRetryAfter      = time.Second
)

// Bounds of the options, to keep schedules far from overflow.
const (
	minTokensPerSecond = 0.001
	maxTokensPerSecond = 1e6
	maxLatency         = time.Hour
)

// Options is the sim provider's options block; see the package doc.
type Options struct {
	Seed            int64           `json:"seed"`
	TTFT            json.RawMessage `json:"ttft"`
	TokensPerSecond *float64        `json:"tokens_per_second"`
	OutputTokens    json.RawMessage `json:"output_tokens"`
	ErrorRate       float64         `json:"error_rate"`
	RateLimitRate   float64         `json:"rate_limit_rate"`
	RetryAfter      json.RawMessage `json:"retry_after"`
	HangRate        float64         `json:"hang_rate"`
	StreamBreakRate float64         `json:"stream_break_rate"`
	Reply           string          `json:"reply"`
	CallTools       bool            `json:"call_tools"`
	Realtime        *bool           `json:"realtime"`
	// EmbeddingDimensions is the length of embedding vectors; see embed.go.
	EmbeddingDimensions int `json:"embedding_dimensions"`
}

// Sim is a simulated model. It is safe for concurrent use; its only mutable
// state is the per-content call counter.
type Sim struct {
	model    string // catalog name, for errors
	upstream string // reported as the response's model; the catalog name when empty
	seed     uint64 // the configured seed mixed with the upstream name

	ttft         Latency
	perToken     time.Duration
	outputTokens TokenRange
	retryAfter   time.Duration
	rates        rates
	reply        *template.Template // nil: generated text
	callTools    bool
	realtime     bool
	embedDims    int // embedding length when a request does not ask for one

	calls   counter
	streams streamCounts // see Streams
}

// New builds a sim provider from cfg; see the package doc for options.
// Errors are *conf.Error values at cfg.OptionsPath.
func New(cfg provider.Config) (provider.Provider, error) {
	path := cfg.OptionsPath
	var opts Options
	if err := conf.Decode(path, cfg.Options, &opts); err != nil {
		return nil, err
	}
	upstream := cfg.Upstream
	if upstream == "" {
		upstream = cfg.Model
	}
	s := &Sim{
		model:        cfg.Model,
		upstream:     upstream,
		seed:         mix(uint64(opts.Seed), hashString(upstream)),
		ttft:         defaultTTFT,
		outputTokens: defaultOutputTokens,
		retryAfter:   defaultRetryAfter,
		callTools:    opts.CallTools,
		realtime:     true,
	}
	var err error
	if opts.TTFT != nil {
		if s.ttft, err = parseLatency(conf.Join(path, "ttft"), opts.TTFT); err != nil {
			return nil, err
		}
	}
	tps := defaultTokensPerSecond
	if opts.TokensPerSecond != nil {
		tps = *opts.TokensPerSecond
	}
	if !(tps >= minTokensPerSecond && tps <= maxTokensPerSecond) {
		return nil, conf.Errorf(conf.Join(path, "tokens_per_second"), "must be between %v and %v, got %v", minTokensPerSecond, maxTokensPerSecond, tps)
	}
	s.perToken = time.Duration(float64(time.Second) / tps)
	if opts.OutputTokens != nil {
		if s.outputTokens, err = parseTokenRange(conf.Join(path, "output_tokens"), opts.OutputTokens); err != nil {
			return nil, err
		}
	}
	if opts.RetryAfter != nil {
		var d conf.Duration
		if err := decodeField(conf.Join(path, "retry_after"), opts.RetryAfter, &d); err != nil {
			return nil, err
		}
		s.retryAfter = d.D()
	}
	if s.rates, err = newRates(path, opts); err != nil {
		return nil, err
	}
	if s.embedDims, err = embeddingDimensions(conf.Join(path, "embedding_dimensions"), opts.EmbeddingDimensions); err != nil {
		return nil, err
	}
	if opts.Reply != "" {
		if s.reply, err = parseReply(conf.Join(path, "reply"), opts.Reply); err != nil {
			return nil, err
		}
	}
	if opts.Realtime != nil {
		s.realtime = *opts.Realtime
	}
	return s, nil
}

// replyData is what a reply template sees.
type replyData struct {
	Model   string // the upstream name
	Prompt  string // the last user message
	Summary string // its first words
	Turn    int    // the number of user messages
}

func parseReply(path, text string) (*template.Template, error) {
	t, err := template.New("reply").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, conf.Errorf(path, "%v", err)
	}
	// Execute once so that unknown fields fail at load, not per request.
	if err := t.Execute(new(strings.Builder), replyData{Model: "m", Prompt: "p", Summary: "s", Turn: 1}); err != nil {
		return nil, conf.Errorf(path, "%v (fields: .Model, .Prompt, .Summary, .Turn)", err)
	}
	return t, nil
}

// Label marks answers as simulated, not live.
func (s *Sim) Label() string { return "sim" }

// Chat returns a simulated response. In realtime mode it returns when the
// last token of the equivalent stream would have arrived. Rate limits and
// server errors return at once; a hang returns only when ctx ends.
func (s *Sim) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	start := time.Now()
	pl, err := s.plan(req)
	if err != nil {
		return nil, err
	}
	if err := s.fault(ctx, pl); err != nil {
		return nil, err
	}
	if err := s.waitUntil(ctx, start, pl.doneAt()); err != nil {
		return nil, err
	}
	msg := llm.Message{Role: llm.RoleAssistant, Content: pl.text()}
	if pl.call != nil {
		msg.ToolCalls = []llm.ToolCall{*pl.call}
	}
	choice := llm.Choice{Message: msg, FinishReason: pl.finish}
	if pl.logprobs != nil {
		choice.Logprobs = &llm.Logprobs{Content: pl.logprobs}
	}
	return &llm.Response{
		ID:      pl.id,
		Created: time.Now().Unix(),
		Model:   s.upstream,
		Choices: []llm.Choice{choice},
		Usage:   pl.usage(),
	}, nil
}

// ChatStream returns a simulated stream. Rate limits and server errors are
// returned by ChatStream itself, at once, as an upstream refuses before its
// headers; a hang blocks ChatStream until ctx ends. Otherwise it returns at
// once and the stream sends the role delta and the first token at TTFT, one
// delta per token-sized piece at the modeled rate, a chunk with the finish
// reason, a usage chunk, and io.EOF - unless the stream breaks, in which
// case Recv returns a transient "stream_truncated" error where the next
// chunk was due.
func (s *Sim) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	start := time.Now()
	if ctx.Err() != nil {
		return nil, ctxError(ctx, s.model)
	}
	pl, err := s.plan(req)
	if err != nil {
		return nil, err
	}
	if err := s.fault(ctx, pl); err != nil {
		return nil, err
	}
	events := s.events(pl, start.Unix())
	st := &stream{start: start, events: events, realtime: s.realtime, model: s.model}
	if pl.outcome == outcomeBreak {
		// Cut after the role delta and some of the content; the error comes
		// when the first dropped chunk was due.
		content := len(events) - 3 // role, ..., finish, usage
		cut := 1 + int(pl.breakAt*float64(content))
		st.tailAt = events[cut].at
		st.events = events[:cut]
		st.tail = &llm.Error{Status: 502, Type: llm.TypeUpstream, Code: "stream_truncated",
			Message: "simulated: the stream ended before its terminal event", Class: llm.ClassTransient, Model: s.model}
	}
	st.ctx, st.cancel = context.WithCancel(ctx)
	st.counts = &s.streams
	s.streams.started.Add(1)
	return st, nil
}

// events lays out a plan as timed chunks.
func (s *Sim) events(pl *plan, created int64) []event {
	chunk := func(d llm.Delta, finish string, lp *llm.Logprobs) *llm.Chunk {
		return &llm.Chunk{ID: pl.id, Created: created, Model: s.upstream,
			Choices: []llm.ChunkChoice{{Delta: d, FinishReason: finish, Logprobs: lp}}}
	}
	events := []event{{at: pl.ttft, chunk: chunk(llm.Delta{Role: llm.RoleAssistant}, "", nil)}}
	if pl.call != nil {
		c := pl.call
		events = append(events,
			event{at: pl.ttft, chunk: chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{ID: c.ID, Type: c.Type, Function: llm.FunctionCall{Name: c.Function.Name}}}}, "", nil)},
			event{at: pl.ttft + s.perToken, chunk: chunk(llm.Delta{ToolCalls: []llm.ToolCallDelta{{Function: llm.FunctionCall{Arguments: c.Function.Arguments}}}}, "", nil)})
	}
	done := 0
	for i, pc := range pl.pieces {
		done += pc.Tokens
		var lp *llm.Logprobs
		if pl.logprobs != nil {
			lp = &llm.Logprobs{Content: pl.logprobs[i : i+1]}
		}
		events = append(events, event{at: pl.ttft + time.Duration(done-1)*s.perToken, chunk: chunk(llm.Delta{Content: pc.Text}, "", lp)})
	}
	last := events[len(events)-1].at
	u := pl.usage()
	return append(events,
		event{at: last, chunk: chunk(llm.Delta{}, pl.finish, nil)},
		event{at: last, chunk: &llm.Chunk{ID: pl.id, Created: created, Model: s.upstream, Choices: []llm.ChunkChoice{}, Usage: &u}})
}

// fault applies a plan's failure outcome before any answer: it returns the
// error to give, or nil to go on.
func (s *Sim) fault(ctx context.Context, pl *plan) error {
	switch pl.outcome {
	case outcomeRateLimit:
		return &llm.Error{Status: 429, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded",
			Message: fmt.Sprintf("simulated rate limit; retry after %v", s.retryAfter), Class: llm.ClassRateLimit,
			RetryAfter: s.retryAfter, Model: s.model}
	case outcomeError:
		code := "upstream_error"
		if pl.status == 503 {
			code = "upstream_overloaded"
		}
		return &llm.Error{Status: pl.status, Type: llm.TypeUpstream, Code: code,
			Message: fmt.Sprintf("simulated upstream failure (HTTP %d)", pl.status), Class: llm.ClassTransient, Model: s.model}
	case outcomeHang:
		<-ctx.Done()
		return ctxError(ctx, s.model)
	}
	return nil
}

// waitUntil waits until start+d in realtime mode, or only checks ctx.
func (s *Sim) waitUntil(ctx context.Context, start time.Time, d time.Duration) error {
	if !s.realtime {
		if ctx.Err() != nil {
			return ctxError(ctx, s.model)
		}
		return nil
	}
	return sleepUntil(ctx, start.Add(d), s.model)
}

var (
	_ provider.Provider = (*Sim)(nil)
	_ provider.Labeler  = (*Sim)(nil)
)
