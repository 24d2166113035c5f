package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"

	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

// replacingLearner keeps, like the bandit, one reward per request by
// replacing the previous score: its sum must end at the latest score.
type replacingLearner struct {
	mu  sync.Mutex
	sum float64
}

func (*replacingLearner) Finished(*store.Decision) {}

func (l *replacingLearner) Feedback(_ *store.Decision, score float64, previous *float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum += score
	if previous != nil {
		l.sum -= *previous
	}
}

// TestFeedbackPreviousConcurrent: scores posted at once for one request
// each replace exactly the score stored before them, so a learner that
// replaces rewards ends at the latest stored score.
func TestFeedbackPreviousConcurrent(t *testing.T) {
	srv, log := logFixture(t)
	const id, learner = "req-concurrent-feedback", "test/concurrent-feedback"
	l := &replacingLearner{}
	learning.Default.Register(learner, l)
	t.Cleanup(func() { learning.Default.Unregister(learner, l) })
	log.Record(store.Decision{RequestID: id, Route: "auto", Status: 200,
		Trace: trace.View{Decisions: []trace.Decision{{Node: "auto", Kind: "test", Data: map[string]any{learning.DataKey: learner}}}}})
	if err := log.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"request_id":%q,"score":%d}`, id, i+1)
			if w := serve(srv, http.MethodPost, "/v1/feedback", body, nil); w.Code != http.StatusOK {
				t.Errorf("feedback: %d %s", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	fbs, err := log.Feedback(context.Background(), id)
	if err != nil || len(fbs) != 40 {
		t.Fatalf("feedback stored: %d, %v", len(fbs), err)
	}
	last := *fbs[len(fbs)-1].Score
	if l.mu.Lock(); math.Abs(l.sum-last) > 1e-9 {
		t.Errorf("learner's sum of replacements = %v, want the latest score %v", l.sum, last)
	}
	l.mu.Unlock()
}

// feedbackFails is a decision log whose feedback reads fail.
type feedbackFails struct{ *store.Log }

func (feedbackFails) Feedback(context.Context, string) ([]store.Feedback, error) {
	return nil, errors.New("read failed")
}

// TestFeedbackPreviousUnknown: when the score a new one replaces cannot be
// read, learners are not told it is the first (that would count the
// request twice).
func TestFeedbackPreviousUnknown(t *testing.T) {
	srv, log := logFixture(t)
	const id, learner = "req-previous-unknown", "test/previous-unknown"
	l := &replacingLearner{}
	learning.Default.Register(learner, l)
	t.Cleanup(func() { learning.Default.Unregister(learner, l) })
	log.Record(store.Decision{RequestID: id, Route: "auto", Status: 200,
		Trace: trace.View{Decisions: []trace.Decision{{Node: "auto", Kind: "test", Data: map[string]any{learning.DataKey: learner}}}}})
	if w := serve(srv, http.MethodPost, "/v1/feedback", `{"request_id":"`+id+`","score":0.5}`, nil); w.Code != http.StatusOK {
		t.Fatalf("feedback: %d %s", w.Code, w.Body)
	}
	broken := New(srv.engine, feedbackFails{log}, nil)
	if w := serve(broken, http.MethodPost, "/v1/feedback", `{"request_id":"`+id+`","score":1}`, nil); w.Code != http.StatusOK {
		t.Fatalf("feedback: %d %s", w.Code, w.Body)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sum != 0.5 {
		t.Errorf("learner's sum = %v: a score whose predecessor is unknown was counted as the first", l.sum)
	}
}
