package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

func init() { provider.Register("replay", New) }

// Defaults of the latency model.
const (
	DefaultTTFT            = 300 * time.Millisecond
	DefaultTokensPerSecond = 50
)

// Bounds of the latency model, to keep schedules far from overflow.
const (
	minTokensPerSecond = 0.001
	maxTokensPerSecond = 1e6
	maxTTFT            = time.Hour
)

// missClass is the failure class of a prompt the data set cannot answer:
// this deployment cannot serve it, so it is not retried but another
// candidate may be tried.
const missClass = llm.ClassUnsupported

// Options is the replay provider's options block.
type Options struct {
	// Dataset is a .jsonl file or a directory of them, relative to the
	// config file, or dataset.DemoPath ("builtin:demo"). Required.
	Dataset string `json:"dataset"`
	// RecordModel is the key under "models" in the records whose answers
	// are replayed; it defaults to the deployment's upstream name.
	RecordModel string `json:"record_model"`
	// TTFT is the modeled time to first token (a duration such as
	// "300ms"); default DefaultTTFT.
	TTFT json.RawMessage `json:"ttft"`
	// TokensPerSecond is the modeled decoding rate after the first token;
	// default DefaultTokensPerSecond. Must be positive.
	TokensPerSecond *float64 `json:"tokens_per_second"`
	// Realtime makes calls take the modeled latency (default true). False
	// answers at once, for offline evaluation.
	Realtime *bool `json:"realtime"`
}

// Replay answers prompts found in a data set with one model's recorded
// answer. It is immutable after New and safe for concurrent use.
type Replay struct {
	model       string // catalog name, for errors
	upstream    string // reported as the response's model
	recordModel string
	datasetName string
	index       *dataset.Index
	ttft        time.Duration
	perToken    time.Duration
	realtime    bool
}

// New builds a replay provider from cfg; see the package doc for options.
// Errors are *conf.Error values at cfg.OptionsPath.
func New(cfg provider.Config) (provider.Provider, error) {
	path := cfg.OptionsPath
	var opts Options
	if err := conf.Decode(path, cfg.Options, &opts); err != nil {
		return nil, err
	}
	p := &Replay{
		model:       cfg.Model,
		upstream:    cfg.Upstream,
		recordModel: opts.RecordModel,
		datasetName: opts.Dataset,
		ttft:        DefaultTTFT,
		realtime:    true,
	}
	if opts.Dataset == "" {
		return nil, conf.Errorf(conf.Join(path, "dataset"), "required: a .jsonl file, a directory of them, or %q", dataset.DemoPath)
	}
	if p.recordModel == "" {
		p.recordModel = cfg.Upstream
	}
	if p.recordModel == "" {
		return nil, conf.Errorf(conf.Join(path, "record_model"), "required when the model has no upstream name")
	}
	if opts.TTFT != nil {
		var d conf.Duration
		if err := decodeField(conf.Join(path, "ttft"), opts.TTFT, &d); err != nil {
			return nil, err
		}
		if d.D() > maxTTFT {
			return nil, conf.Errorf(conf.Join(path, "ttft"), "must not exceed %v, got %v", maxTTFT, d)
		}
		p.ttft = d.D()
	}
	tps := float64(DefaultTokensPerSecond)
	if opts.TokensPerSecond != nil {
		tps = *opts.TokensPerSecond
	}
	if !(tps >= minTokensPerSecond && tps <= maxTokensPerSecond) {
		return nil, conf.Errorf(conf.Join(path, "tokens_per_second"), "must be between %v and %v, got %v", minTokensPerSecond, maxTokensPerSecond, tps)
	}
	p.perToken = time.Duration(float64(time.Second) / tps)
	if opts.Realtime != nil {
		p.realtime = *opts.Realtime
	}

	records, err := dataset.Open(opts.Dataset, cfg.BaseDir)
	if err != nil {
		return nil, conf.Errorf(conf.Join(path, "dataset"), "%v", err)
	}
	models := dataset.ModelNames(records)
	if !slices.Contains(models, p.recordModel) {
		hint := ""
		if opts.RecordModel == "" {
			hint = " (record_model defaults to the upstream name)"
		}
		return nil, conf.Errorf(conf.Join(path, "record_model"), "model %q has no records in %s%s; it has: %s",
			p.recordModel, opts.Dataset, hint, strings.Join(models, ", "))
	}
	p.index = dataset.NewIndex(records)
	return p, nil
}

// decodeField decodes one option value at its own path: conf.Decode cannot
// say where an error raised by a value type (conf.Duration) occurred.
func decodeField(path string, raw json.RawMessage, v any) error {
	err := conf.Decode(path, raw, v)
	var ce *conf.Error
	if errors.As(err, &ce) && ce.Path == "" {
		return conf.Errorf(path, "%s", ce.Msg)
	}
	return err
}

// Label marks answers as replayed, not live.
func (p *Replay) Label() string { return "replay" }

// answer is what a request replays.
type answer struct {
	id           string
	pieces       []tokens.Piece
	text         string
	finish       string
	promptTokens int
	outTokens    int
}

// lookup finds req's recorded answer, cut to req.MaxTokens.
func (p *Replay) lookup(req *llm.Request) (*answer, error) {
	if req.N != nil && *req.N > 1 {
		e := llm.Errorf("n", "the replay provider answers with one choice only (n=%d)", *req.N)
		e.Code, e.Model, e.Class = "unsupported_parameter", p.model, llm.ClassUnsupported
		return nil, e
	}
	var turns []string
	for _, m := range req.Messages {
		if m.Role == llm.RoleUser {
			turns = append(turns, m.Content)
		}
	}
	rec, turn, ok := p.index.Lookup(turns)
	if !ok {
		return nil, &llm.Error{Status: 404, Type: llm.TypeNotFound, Code: "prompt_not_recorded", Class: missClass, Model: p.model,
			Message: fmt.Sprintf("replay of %s: the prompt is not in the data set %s", p.recordModel, p.datasetName)}
	}
	text, ok := rec.Answer(p.recordModel, turn)
	if !ok {
		return nil, &llm.Error{Status: 404, Type: llm.TypeNotFound, Code: "no_recorded_answer", Class: missClass, Model: p.model,
			Message: fmt.Sprintf("replay of %s: record %s of the data set %s has no recorded answer for turn %d", p.recordModel, rec.ID, p.datasetName, turn+1)}
	}
	a := &answer{id: responseID(p.recordModel, rec.ID, turn), finish: llm.FinishStop, promptTokens: tokens.Prompt(req)}
	a.pieces = tokens.Split(text)
	for _, pc := range a.pieces {
		a.outTokens += pc.Tokens
	}
	if req.MaxTokens != nil && *req.MaxTokens > 0 && a.outTokens > *req.MaxTokens {
		a.finish = llm.FinishLength
		a.outTokens = 0
		for i, pc := range a.pieces {
			if a.outTokens+pc.Tokens > *req.MaxTokens {
				a.pieces = a.pieces[:i]
				break
			}
			a.outTokens += pc.Tokens
		}
	}
	var b strings.Builder
	for _, pc := range a.pieces {
		b.WriteString(pc.Text)
	}
	a.text = b.String()
	return a, nil
}

// responseID is deterministic: the same recorded answer always has the same
// id.
func responseID(model, recordID string, turn int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", model, recordID, turn)
	return fmt.Sprintf("replay-%016x", h.Sum64())
}

func (a *answer) usage() llm.Usage {
	return llm.Usage{PromptTokens: a.promptTokens, CompletionTokens: a.outTokens, TotalTokens: a.promptTokens + a.outTokens}
}

// Chat returns the recorded answer. In realtime mode it returns when the
// last token of a stream would have arrived: TTFT plus one token interval
// per token after the first.
func (p *Replay) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	start := time.Now()
	a, err := p.lookup(req)
	if err != nil {
		return nil, err
	}
	if err := p.waitUntil(ctx, start, p.ttft+time.Duration(max(a.outTokens-1, 0))*p.perToken); err != nil {
		return nil, err
	}
	return &llm.Response{
		ID:      a.id,
		Created: time.Now().Unix(),
		Model:   p.upstream,
		Choices: []llm.Choice{{
			Message:      llm.Message{Role: llm.RoleAssistant, Content: a.text},
			FinishReason: a.finish,
		}},
		Usage: a.usage(),
	}, nil
}

// ChatStream returns at once with a stream of the recorded answer: a role
// delta at TTFT, then one delta per token-sized piece at the modeled rate,
// a chunk with the finish reason, a usage chunk, and io.EOF.
func (p *Replay) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx, p.model)
	}
	a, err := p.lookup(req)
	if err != nil {
		return nil, err
	}
	created := start.Unix()
	chunk := func(d llm.Delta, finish string) *llm.Chunk {
		return &llm.Chunk{ID: a.id, Created: created, Model: p.upstream,
			Choices: []llm.ChunkChoice{{Delta: d, FinishReason: finish}}}
	}
	events := make([]event, 0, len(a.pieces)+3)
	events = append(events, event{at: p.ttft, chunk: chunk(llm.Delta{Role: llm.RoleAssistant}, "")})
	done := 0
	for _, pc := range a.pieces {
		done += pc.Tokens
		events = append(events, event{at: p.ttft + time.Duration(done-1)*p.perToken, chunk: chunk(llm.Delta{Content: pc.Text}, "")})
	}
	last := events[len(events)-1].at
	u := a.usage()
	events = append(events,
		event{at: last, chunk: chunk(llm.Delta{}, a.finish)},
		event{at: last, chunk: &llm.Chunk{ID: a.id, Created: created, Model: p.upstream, Choices: []llm.ChunkChoice{}, Usage: &u}},
	)
	sctx, cancel := context.WithCancel(ctx)
	return &stream{ctx: sctx, cancel: cancel, start: start, events: events, realtime: p.realtime, model: p.model}, nil
}

// waitUntil waits until start+d in realtime mode, or only checks ctx.
func (p *Replay) waitUntil(ctx context.Context, start time.Time, d time.Duration) error {
	if !p.realtime {
		if ctx.Err() != nil {
			return ctxError(ctx, p.model)
		}
		return nil
	}
	return sleepUntil(ctx, start.Add(d), p.model)
}

var (
	_ provider.Provider = (*Replay)(nil)
	_ provider.Labeler  = (*Replay)(nil)
)
