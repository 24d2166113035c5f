package learn

import "context"

// Kinds of model.
const (
	KindClassifier = "classifier"
	KindWinrate    = "winrate"
	KindGate       = "gate"
)

// Example is one input to a model: text (hashed into word n-grams) and
// named numeric features. Builders that produce Examples for a use live
// beside the use (RequestExample here for requests; package gate for
// answers), so training and serving featurize identically.
type Example struct {
	// Text is hashed into word n-grams (see Featurizer) by text models.
	Text string
	// Numeric holds named numeric features (RequestNumeric for
	// requests); a model reads the names it was trained with.
	Numeric map[string]float64
	// Vector is an embedding of the text, read by embedding models
	// (Model.Input() == InputEmbedding) instead of Text.
	Vector []float32
}

type recordKey struct{}

// WithRecord marks ctx as evaluating the recorded data set record id.
func WithRecord(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, recordKey{}, id)
}

// RecordFrom returns the record id WithRecord stored in ctx.
func RecordFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(recordKey{}).(string)
	return id, ok && id != ""
}
