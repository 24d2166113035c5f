package bestof

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/gate/embed"
	"github.com/sextant-router/sextant/internal/gate/judge"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/hold"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() {
	policy.Register("best_of", New)
}

// Selection methods.
const (
	SelectGate     = "gate"
	SelectVote     = "vote"
	SelectJudge    = "judge"
	SelectCentroid = "centroid"
)

// Node asks every candidate and returns the best answer; see the package
// doc. It is immutable after New and safe for concurrent use.
type Node struct {
	path       string
	candidates []candidate
	method     string
	score      gate.Gate // gate: the gates; judge: the judge; nil for vote
	deadline   time.Duration
	embedModel string // centroid: the embeddings model
}

type candidate struct {
	name  string
	node  policy.Node
	model *catalog.Model // when the candidate is one model, for gates that prepare requests
}

type config struct {
	Candidates []json.RawMessage `json:"candidates"`
	Select     string            `json:"select"`
	Gates      json.RawMessage   `json:"gates"`
	Judge      json.RawMessage   `json:"judge"`
	Deadline   conf.Duration     `json:"deadline"`
	Embedding  json.RawMessage   `json:"embedding"`
}

// embeddingConfig is the embedding block of select: centroid.
type embeddingConfig struct {
	Model string `json:"model"`
}

// New builds a best_of node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, method: cfg.Select, deadline: cfg.Deadline.D()}
	candPath := conf.Join(path, "candidates")
	if len(cfg.Candidates) < 2 {
		return nil, conf.Errorf(candPath, "at least two candidates are required (got %d)", len(cfg.Candidates))
	}
	if n.deadline < 0 {
		return nil, conf.Errorf(conf.Join(path, "deadline"), "must not be negative (0: wait for every candidate)")
	}
	for i, rc := range cfg.Candidates {
		node, err := b.Build(conf.Index(candPath, i), rc)
		if err != nil {
			return nil, err
		}
		cd := candidate{name: policy.Describe(rc), node: node}
		if mn, ok := node.(*model.Node); ok {
			cd.model, _ = b.Model(mn.Name)
		}
		n.candidates = append(n.candidates, cd)
	}
	selPath := conf.Join(path, "select")
	if n.method == "" {
		return nil, conf.Errorf(selPath, "required: gate, vote, centroid or judge")
	}
	unused := func(field string, raw json.RawMessage) error {
		if raw != nil {
			return conf.Errorf(conf.Join(path, field), "only used with select: %s", field)
		}
		return nil
	}
	unusedEmbedding := func() error {
		if cfg.Embedding != nil {
			return conf.Errorf(conf.Join(path, "embedding"), "only used with select: centroid")
		}
		return nil
	}
	var err error
	switch n.method {
	case SelectGate:
		if cfg.Gates == nil {
			return nil, conf.Errorf(conf.Join(path, "gates"), "required with select: gate")
		}
		n.score, err = gate.Build(b, conf.Join(path, "gates"), cfg.Gates)
		if err == nil {
			err = unused("judge", cfg.Judge)
		}
		if err == nil {
			err = unusedEmbedding()
		}
	case SelectJudge:
		if cfg.Judge == nil {
			return nil, conf.Errorf(conf.Join(path, "judge"), "required with select: judge ({model: MODEL, rubric: ...})")
		}
		n.score, err = judge.New(b, conf.Join(path, "judge"), cfg.Judge)
		if err == nil {
			err = unused("gates", cfg.Gates)
		}
		if err == nil {
			err = unusedEmbedding()
		}
	case SelectVote:
		if err = unused("gates", cfg.Gates); err == nil {
			err = unused("judge", cfg.Judge)
		}
		if err == nil {
			err = unusedEmbedding()
		}
	case SelectCentroid:
		if err = unused("gates", cfg.Gates); err == nil {
			err = unused("judge", cfg.Judge)
		}
		if err == nil {
			n.embedModel, err = embeddingModel(b, conf.Join(path, "embedding"), cfg.Embedding)
		}
	default:
		return nil, conf.Errorf(selPath, "unknown method %q (want gate, vote, centroid or judge)", n.method)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// embeddingModel decodes select: centroid's embedding block at path and
// checks that its model is in the catalog with the embeddings capability.
func embeddingModel(b policy.Builder, path string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", conf.Errorf(path, "required with select: centroid ({model: EMBEDDINGS_MODEL})")
	}
	var ec embeddingConfig
	if err := conf.Decode(path, raw, &ec); err != nil {
		return "", err
	}
	if err := embed.CheckModel(b, conf.Join(path, "model"), ec.Model); err != nil {
		return "", err
	}
	return ec.Model, nil
}

// result is one candidate's end.
type result struct {
	i       int
	err     error
	out     *policy.Outcome // as the client asked for it (a replay for a stream)
	text    string
	verdict gate.Verdict
	latency time.Duration
}

// Serve asks every candidate, waits for all of them or the deadline, and
// returns the selected answer; see the package doc.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	results := make(chan result, len(n.candidates))
	cancels := make([]context.CancelFunc, len(n.candidates))
	running := make([]bool, len(n.candidates))
	for i := range n.candidates {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i], running[i] = cancel, true
		start := time.Now()
		go func() {
			res := n.run(cctx, c, i)
			res.i, res.latency = i, time.Since(start)
			results <- res // buffered for every candidate: never blocks
		}()
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	var deadline <-chan time.Time
	if n.deadline > 0 {
		t := time.NewTimer(n.deadline)
		defer t.Stop()
		deadline = t.C
	}
	inflight, expired := len(n.candidates), false
	var answers []result
	var lastErr error
	// stop cancels the candidates still running and waits for them, so no
	// goroutine or stream outlives the request.
	stop := func(why string) {
		for i, run := range running {
			if run {
				cancels[i]()
			}
		}
		for ; inflight > 0; inflight-- {
			res := <-results
			running[res.i] = false
			n.decideFor(c, res.i, "cancel", fmt.Sprintf("%s canceled: %s", n.candidates[res.i].name, why), nil, res.latency)
		}
	}
	for inflight > 0 && !(expired && len(answers) > 0) {
		select {
		case <-ctx.Done():
			stop("the request ended")
			return nil, ctxError(ctx)
		case <-deadline:
			expired, deadline = true, nil
		case res := <-results:
			inflight--
			running[res.i] = false
			if res.err != nil {
				if ctx.Err() == nil {
					lastErr = res.err
					n.decideFor(c, res.i, "error", fmt.Sprintf("%s failed: %s", n.candidates[res.i].name, llm.AsError(res.err).Message),
						map[string]any{"error_class": llm.ClassOf(res.err).String()}, res.latency)
				}
				continue
			}
			answers = append(answers, res)
		}
	}
	if inflight > 0 {
		stop("the deadline passed")
	}
	if len(answers) == 0 {
		if ctx.Err() != nil {
			return nil, ctxError(ctx)
		}
		n.decide(c, "none", "every candidate failed", nil)
		return nil, lastErr
	}
	w, reason, data := n.pick(ctx, c, answers)
	if ctx.Err() != nil {
		// The client went away while the selection ran (an embeddings
		// call): the held answers are replays with nothing left to close.
		return nil, ctxError(ctx)
	}
	data["method"], data["answers"] = n.method, len(answers)
	n.decideFor(c, w.i, "select", reason, data, w.latency)
	return w.out, nil
}

// pick selects the winning answer among answers (in arrival order).
func (n *Node) pick(ctx context.Context, c *policy.Call, answers []result) (result, string, map[string]any) {
	switch n.method {
	case SelectVote:
		return vote(answers)
	case SelectCentroid:
		return n.centroid(ctx, c, answers)
	}
	best := answers[0]
	for _, a := range answers[1:] {
		if a.verdict.Score > best.verdict.Score {
			best = a
		}
	}
	return best, fmt.Sprintf("%s scored highest (%.3f) by %s", n.candidates[best.i].name, best.verdict.Score, n.method),
		map[string]any{"score": best.verdict.Score}
}

// vote groups answers by their normalised final answer (answer.Final) and
// returns the earliest answer of the largest group; ties go to the group
// that answered first. Answers without any final answer vote alone.
func vote(answers []result) (result, string, map[string]any) {
	counts := map[string]int{}
	for _, a := range answers {
		if f, _ := answer.Final(a.text); f != "" {
			counts[f]++
		}
	}
	best, bestVotes, bestFinal := answers[0], 0, ""
	for _, a := range answers {
		f, _ := answer.Final(a.text)
		votes := 1
		if f != "" {
			votes = counts[f]
		}
		if votes > bestVotes {
			best, bestVotes, bestFinal = a, votes, f
		}
	}
	return best, fmt.Sprintf("%d of %d answers agree on %q", bestVotes, len(answers), bestFinal),
		map[string]any{"votes": bestVotes, "final": bestFinal}
}

// centroid embeds every answer with the node's embeddings model (one
// batched call through c.Exec, so its cost is in the trace) and returns
// the answer with the highest mean cosine similarity to the other
// answers, ties to the earlier answer. A single answer is taken without
// an embedding; when the embedding fails the earliest answer is taken and
// the reason says why.
func (n *Node) centroid(ctx context.Context, c *policy.Call, answers []result) (result, string, map[string]any) {
	data := map[string]any{"embedding_model": n.embedModel}
	if len(answers) == 1 {
		return answers[0], "the only answer in", data
	}
	texts := make([]string, len(answers))
	for i, a := range answers {
		texts[i] = a.text
	}
	vecs, err := embed.Texts(ctx, c, n.embedModel, texts)
	if err != nil {
		data["fallback"] = true
		data["error_class"] = llm.ClassOf(err).String()
		return answers[0], fmt.Sprintf("embedding the answers failed (%s): the earliest answer", llm.AsError(err).Message), data
	}
	scores := meanSimilarities(vecs)
	best := 0
	for i, s := range scores {
		if s > scores[best] {
			best = i
		}
	}
	per := make([]map[string]any, len(answers))
	for i, a := range answers {
		per[i] = map[string]any{"candidate": n.candidates[a.i].name, "index": a.i, "similarity": scores[i]}
	}
	data["similarity"], data["scores"] = scores[best], per
	return answers[best], fmt.Sprintf("%s is closest to the answers' centroid (mean cosine %.3f over %d answers)",
		n.candidates[answers[best].i].name, scores[best], len(answers)), data
}

// meanSimilarities returns, for each vector, its mean cosine similarity
// to the others (len(vecs) >= 2). Ranking by it ranks by similarity to
// the sum of the normalised vectors, the centroid's direction.
func meanSimilarities(vecs [][]float32) []float64 {
	out := make([]float64, len(vecs))
	for i := range vecs {
		for j := i + 1; j < len(vecs); j++ {
			s := embed.Cosine(vecs[i], vecs[j])
			out[i] += s
			out[j] += s
		}
	}
	for i := range out {
		out[i] /= float64(len(vecs) - 1)
	}
	return out
}

// run serves candidate i, reads a stream to its end and scores the answer.
func (n *Node) run(ctx context.Context, c *policy.Call, i int) result {
	cd := &n.candidates[i]
	tc, req := c, c.Request
	if n.score != nil {
		if p := gate.Prepare(n.score, cd.model, c.Request); p != c.Request {
			req = p
			tc = &policy.Call{Request: p, Caller: c.Caller, Header: c.Header, Exec: c.Exec, Trace: c.Trace, Now: c.Now}
		}
	}
	out, err := cd.node.Serve(ctx, tc)
	if err != nil {
		return result{err: err}
	}
	if out == nil || (out.Stream == nil && out.Response == nil) {
		return result{err: &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
			Message: fmt.Sprintf("best_of candidate %s returned no answer", cd.name), Class: llm.ClassUnknown}}
	}
	resp, res := out.Response, result{}
	if out.Stream != nil {
		held, whole, err := hold.Collect(out.Stream)
		if err != nil {
			return result{err: err}
		}
		resp = whole
		res.out = &policy.Outcome{Model: out.Model, Stream: hold.NewReplay(held, nil, c.Request)}
	} else {
		res.out = &policy.Outcome{Model: out.Model, Response: gate.Strip(c.Request, resp)}
	}
	res.text = resp.Text()
	if n.score != nil {
		res.verdict = gate.Run(ctx, tc, n.score, &gate.Answer{Model: out.Model, Request: req, Response: resp})
		if ctx.Err() != nil {
			if res.out.Stream != nil {
				res.out.Stream.Close()
			}
			return result{err: ctxError(ctx)}
		}
		gate.Record(tc, conf.Index(conf.Join(n.path, "candidates"), i), res.verdict)
	}
	return res
}

func (n *Node) decide(c *policy.Call, decision, reason string, data map[string]any) {
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "best_of", Decision: decision, Reason: reason, Data: data})
}

func (n *Node) decideFor(c *policy.Call, i int, decision, reason string, data map[string]any, latency time.Duration) {
	if data == nil {
		data = map[string]any{}
	}
	data["candidate"], data["index"], data["latency_ms"] = n.candidates[i].name, i, trace.Millis(latency)
	n.decide(c, decision, reason, data)
}

// ctxError is the error of a request whose context ended, shaped as the
// executor shapes it.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "request_timeout",
			Message: "the request's total deadline passed", Class: llm.ClassCanceled, Cause: ctx.Err()}
	}
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Cause: ctx.Err()}
}

var _ policy.Node = (*Node)(nil)
