package gemini

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// maxEmbedBatch is the most requests batchEmbedContents takes in one call;
// longer inputs are sent in several calls, one after another.
const maxEmbedBatch = 100

type embedBatchRequest struct {
	Requests []embedRequest `json:"requests"`
}

type embedRequest struct {
	Model                string       `json:"model"`
	Content              embedContent `json:"content"`
	OutputDimensionality int          `json:"outputDimensionality,omitempty"`
}

type embedContent struct {
	Parts []embedPart `json:"parts"`
}

// embedPart keeps empty text, so that an empty input reaches the API (and
// is refused there) rather than becoming a part with no data.
type embedPart struct {
	Text string `json:"text"`
}

type embedBatchResponse struct {
	Embeddings []struct {
		Values []float32 `json:"values"`
	} `json:"embeddings"`
	Error *errorBody `json:"error"`
}

// Embed sends req.Input to batchEmbedContents, in batches of at most 100,
// and returns one vector per input in input order. Dimensions, when set,
// is sent as outputDimensionality. The API reports no token usage, so
// Usage is zero and the executor counts tokens itself.
func (p *Provider) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	if len(req.Input) == 0 {
		return nil, p.callerError("input", "input must hold at least one text")
	}
	if req.Dimensions < 0 {
		return nil, p.callerError("dimensions", "dimensions must not be negative")
	}
	model, lerr := p.modelName(req.Model)
	if lerr != nil {
		return nil, lerr
	}
	endpoint := p.endpoint(model, "batchEmbedContents")
	out := &llm.EmbedResponse{Model: cmp.Or(p.upstream, req.Model), Vectors: make([][]float32, 0, len(req.Input))}
	for start := 0; start < len(req.Input); start += maxEmbedBatch {
		batch := req.Input[start:min(start+maxEmbedBatch, len(req.Input))]
		vecs, err := p.embedBatch(ctx, endpoint, model, batch, req.Dimensions)
		if err != nil {
			return nil, err
		}
		out.Vectors = append(out.Vectors, vecs...)
	}
	return out, nil
}

func (p *Provider) embedBatch(ctx context.Context, endpoint, model string, input []string, dims int) ([][]float32, error) {
	w := embedBatchRequest{Requests: make([]embedRequest, len(input))}
	for i, text := range input {
		w.Requests[i] = embedRequest{Model: model, Content: embedContent{Parts: []embedPart{{Text: text}}}, OutputDimensionality: dims}
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, p.callerError("input", "the request could not be encoded: %v", err)
	}
	resp, err := p.post(ctx, endpoint, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := upstream.ReadBody(ctx, p.model, resp.Body, maxResponse)
	if err != nil {
		return nil, err
	}
	var wr embedBatchResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Error != nil {
		return nil, p.inbandError(*wr.Error)
	}
	if len(wr.Embeddings) != len(input) {
		return nil, p.badResponse(fmt.Errorf("got %d embeddings for %d inputs", len(wr.Embeddings), len(input)))
	}
	vecs := make([][]float32, len(input))
	for i, e := range wr.Embeddings {
		if len(e.Values) == 0 {
			return nil, p.badResponse(fmt.Errorf("embedding %d is empty", i))
		}
		vecs[i] = e.Values
	}
	return vecs, nil
}
