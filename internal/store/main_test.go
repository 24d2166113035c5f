package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sampleDecision returns a decision with every field set.
func sampleDecision(id string) Decision {
	return Decision{
		RequestID:    id,
		Time:         time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Route:        "auto",
		Model:        "small",
		Status:       200,
		ErrorType:    "",
		ErrorMessage: "",
		Stream:       true,
		Usage:        llm.Usage{PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42, CachedTokens: 4, ReasoningTokens: 7, Estimated: true},
		CostMicros:   catalog.Micros(1234),
		LatencyMS:    812.5,
		TTFTMS:       95.25,
		CallerKey:    "team-a",
		CallerTier:   "pro",
		Category:     "code",
		Labels:       map[string]string{"app": "ide", "env": "test"},
		Request:      json.RawMessage(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`),
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		Trace: trace.View{
			Decisions: []trace.Decision{{
				Node: "routes.auto.cascade", Kind: "cascade", Decision: "small",
				Reason: "gate passed", Data: map[string]any{"score": 0.8, "gate": "structure"}, AtMS: 1.5,
			}},
			Attempts: []trace.Attempt{{
				Model: "small", Provider: "openai", Try: 1, Stream: true, Outcome: trace.OutcomeOK,
				Status: 200, StartMS: 2, TTFTMS: 95.25, LatencyMS: 810,
				Usage: llm.Usage{PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42}, CostMicros: 1234, Finish: "stop",
			}},
		},
	}
}

// fakeStore is an in-memory Store whose writes can be made to fail or to
// block.
type fakeStore struct {
	mu        sync.Mutex
	decisions map[string]Decision
	feedback  map[string][]Feedback
	fail      int             // how many more WriteDecisions calls fail
	invalid   map[string]bool // request ids rejected with ErrInvalid
	calls     int
	closed    bool

	started chan struct{} // receives a value as each write starts, if not nil
	release chan struct{} // if not nil, each write waits for a value or close
}

var errFake = errors.New("fake: disk on fire")

func newFakeStore() *fakeStore {
	return &fakeStore{decisions: map[string]Decision{}, feedback: map[string][]Feedback{}, invalid: map[string]bool{}}
}

func (f *fakeStore) WriteDecisions(ctx context.Context, ds []Decision) error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return errFake
	}
	for _, d := range ds {
		if f.invalid[d.RequestID] {
			return invalidf("fake: %q", d.RequestID)
		}
	}
	for _, d := range ds {
		f.decisions[d.RequestID] = d
	}
	return nil
}

func (f *fakeStore) Decision(_ context.Context, id string) (*Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.decisions[id]
	if !ok {
		return nil, fmt.Errorf("decision %q: %w", id, ErrNotFound)
	}
	return &d, nil
}

func (f *fakeStore) AddFeedback(_ context.Context, fb Feedback) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.decisions[fb.RequestID]; !ok {
		return fmt.Errorf("decision %q: %w", fb.RequestID, ErrNotFound)
	}
	f.feedback[fb.RequestID] = append(f.feedback[fb.RequestID], fb)
	return nil
}

func (f *fakeStore) Feedback(_ context.Context, id string) ([]Feedback, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.decisions[id]; !ok {
		return nil, fmt.Errorf("decision %q: %w", id, ErrNotFound)
	}
	return append([]Feedback{}, f.feedback[id]...), nil
}

func (f *fakeStore) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeStore) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.decisions[id]
	return ok
}

var _ Store = (*fakeStore)(nil)
