package signals

// FeedbackMean is the mean user-feedback score of one model in one request
// category since the process started.
type FeedbackMean struct {
	Mean  float64 `json:"mean"`
	Count int64   `json:"count"`
}

type feedbackSum struct {
	sum float64
	n   int64
}

// Feedback records a feedback score for an answer of name to a request of
// category ("" is recorded as "uncategorized").
func (r *Registry) Feedback(name, category string, score float64) {
	if category == "" {
		category = "uncategorized"
	}
	m := r.model(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.feedback == nil {
		m.feedback = map[string]feedbackSum{}
	}
	f := m.feedback[category]
	f.sum += score
	f.n++
	m.feedback[category] = f
}

// feedbackMeans returns m's feedback means; m.mu must be held.
func (m *model) feedbackMeans() map[string]FeedbackMean {
	if len(m.feedback) == 0 {
		return nil
	}
	out := make(map[string]FeedbackMean, len(m.feedback))
	for c, f := range m.feedback {
		out[c] = FeedbackMean{Mean: f.sum / float64(f.n), Count: f.n}
	}
	return out
}
