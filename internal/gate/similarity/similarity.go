// Package similarity provides the "similarity" gate: how close an answer
// is, in an embedding space, to reference or known-good answers. See the
// package doc of gate for its config.
package similarity

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/embed"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "similarity"

func init() { gate.Register(Kind, New) }

// DefaultThreshold is the cosine similarity an answer must reach.
const DefaultThreshold = 0.8

// maxReferences bounds the references of one gate.
const maxReferences = 100_000

// Gate scores an answer by its highest cosine similarity to a reference.
type Gate struct {
	gate.Base
	model string
	refs  []string

	mu   sync.Mutex
	vecs [][]float32 // embeddings of refs, once computed
}

type config struct {
	gate.Common
	Model      string   `json:"model"`
	References []string `json:"references"`
	File       string   `json:"file"`
}

// New builds a similarity gate; see the package doc of gate for its
// config. The reference file is read now; the references are embedded on
// first use.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	if err := embed.CheckModel(b, conf.Join(path, "model"), cfg.Model); err != nil {
		return nil, err
	}
	g := &Gate{Base: base, model: cfg.Model}
	for i, r := range cfg.References {
		if strings.TrimSpace(r) == "" {
			return nil, conf.Errorf(conf.Index(conf.Join(path, "references"), i), "empty reference")
		}
		g.refs = append(g.refs, r)
	}
	if cfg.File != "" {
		refs, err := ReadReferences(b.Path(cfg.File))
		if err != nil {
			return nil, conf.Errorf(conf.Join(path, "file"), "%v", err)
		}
		g.refs = append(g.refs, refs...)
	}
	if len(g.refs) == 0 {
		return nil, conf.Errorf(path, "references or file is required: the known-good answers to compare with")
	}
	if len(g.refs) > maxReferences {
		return nil, conf.Errorf(path, "%d references, at most %d", len(g.refs), maxReferences)
	}
	return g, nil
}

// ReadReferences reads a reference file: JSON lines with a "text" member
// (other members are ignored) when it ends in .jsonl, else one reference
// per non-empty line.
func ReadReferences(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	jsonl := strings.HasSuffix(path, ".jsonl")
	var out []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !jsonl {
			out = append(out, line)
			continue
		}
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if strings.TrimSpace(rec.Text) == "" {
			return nil, fmt.Errorf("%s:%d: no \"text\"", path, n)
		}
		out = append(out, rec.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// references returns the references' vectors, embedding them on first
// use (the cost lands in that request's trace). A failed attempt is
// retried by the next call.
func (g *Gate) references(ctx context.Context, c *policy.Call) ([][]float32, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.vecs != nil {
		return g.vecs, nil
	}
	vs, err := embed.Texts(ctx, c, g.model, g.refs)
	if err != nil {
		return nil, fmt.Errorf("similarity: embedding the references: %w", err)
	}
	g.vecs = vs
	return vs, nil
}

// Check embeds a's first choice and scores its highest cosine similarity
// to a reference (negative similarities count as 0). It skips a partial
// answer.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a.Partial {
		return g.Skip(c, "prefix: similarity needs the whole answer"), nil
	}
	text := a.Text()
	if strings.TrimSpace(text) == "" {
		return g.Verdict(c, 0, "empty answer"), nil
	}
	refs, err := g.references(ctx, c)
	if err != nil {
		return gate.Verdict{}, err
	}
	vs, err := embed.Texts(ctx, c, g.model, []string{text})
	if err != nil {
		return gate.Verdict{}, err
	}
	best, at := -1.0, -1
	for i, r := range refs {
		if s := embed.Cosine(vs[0], r); s > best {
			best, at = s, i
		}
	}
	v := g.Verdict(c, best, fmt.Sprintf("cosine %.3f to reference %d of %d", best, at+1, len(refs)))
	v.Metrics = map[string]float64{"max_cosine": best, "reference": float64(at)}
	return v, nil
}

var _ gate.Gate = (*Gate)(nil)
