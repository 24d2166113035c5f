package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// maxEmbedResponse bounds the body of an embeddings response, in bytes. It
// is larger than maxResponse because OpenAI allows 2,048 inputs per call,
// and 2,048 vectors of 3,072 floats written as JSON text come to about
// 130 MB.
const maxEmbedResponse = 256 << 20

// The request and response shapes of POST /embeddings, as OpenAI documents
// them. Only string inputs are sent; token-array inputs are refused at the
// client edge because the models behind a route use different tokenizers.

type embedRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	Dimensions     int      `json:"dimensions,omitempty"`
	EncodingFormat string   `json:"encoding_format"`
	User           string   `json:"user,omitempty"`
}

type embedResponse struct {
	Data  []embeddingItem `json:"data"`
	Model string          `json:"model"`
	Usage *embedUsage     `json:"usage"`
	// Error is set by gateways that answer 200 with an error body.
	Error *errorBody `json:"error"`
}

type embeddingItem struct {
	// Index is the position of the input this vector belongs to; nil when
	// the server leaves it out.
	Index     *int   `json:"index"`
	Embedding vector `json:"embedding"`
}

type embedUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// vector is an embedding as either encoding_format writes it: a JSON array
// of numbers ("float"), or a base64 string of little-endian float32 values
// ("base64").
type vector []float32

func (v *vector) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '"' {
		return json.Unmarshal(b, (*[]float32)(v))
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("base64 embedding: %w", err)
	}
	if len(raw)%4 != 0 {
		return fmt.Errorf("base64 embedding: %d bytes is not a whole number of float32 values", len(raw))
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	*v = out
	return nil
}

// embedEndpoint is {base_url}/embeddings.
func (p *Provider) embedEndpoint() string {
	return strings.TrimSuffix(p.endpoint, "/chat/completions") + "/embeddings"
}

// Embed sends req.Input as one POST to {base_url}/embeddings and returns
// one vector per input, in input order. It asks for float encoding; a
// server that answers in base64 anyway is understood too. Errors are
// classified exactly as Chat classifies them; in addition, an answer that
// does not hold exactly one well-formed vector per input is a transient
// bad_upstream_response, and vectors of another length than a requested
// Dimensions are an unsupported_parameter error of llm.ClassUnsupported
// (the model ignored the parameter; another model may honour it).
func (p *Provider) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	if len(req.Input) == 0 {
		e := llm.Errorf("input", "at least one input is required")
		e.Model = p.model
		return nil, e
	}
	w := embedRequest{
		Model:          p.upstream,
		Input:          req.Input,
		Dimensions:     max(req.Dimensions, 0),
		EncodingFormat: "float",
		User:           req.User,
	}
	if w.Model == "" {
		w.Model = req.Model
	}
	// Strings always encode; invalid UTF-8 becomes U+FFFD.
	body, _ := json.Marshal(&w)
	resp, err := p.postTo(ctx, p.embedEndpoint(), body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := upstream.ReadBody(ctx, p.model, resp.Body, maxEmbedResponse)
	if err != nil {
		return nil, err
	}
	return p.decodeEmbeddings(data, len(req.Input), w.Dimensions)
}

// decodeEmbeddings reads a 2xx embeddings body that answers n inputs. The
// vectors are placed by their index, never by their position in the list,
// unless no item has an index. dims is the requested length, 0 for the
// model's default.
func (p *Provider) decodeEmbeddings(data []byte, n, dims int) (*llm.EmbedResponse, error) {
	var wr embedResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Error != nil && len(wr.Data) == 0 {
		return nil, p.inbandError(*wr.Error)
	}
	if len(wr.Data) != n {
		return nil, p.badResponse(fmt.Errorf("%d embeddings for %d inputs", len(wr.Data), n))
	}
	vecs := make([][]float32, n)
	positional := wr.Data[0].Index == nil
	for i, d := range wr.Data {
		if (d.Index == nil) != positional {
			return nil, p.badResponse(errors.New("some embeddings have an index and some do not"))
		}
		j := i
		if !positional {
			j = *d.Index
		}
		switch {
		case j < 0 || j >= n:
			return nil, p.badResponse(fmt.Errorf("embedding index %d is outside [0, %d)", j, n))
		case vecs[j] != nil:
			return nil, p.badResponse(fmt.Errorf("embedding index %d appears twice", j))
		case len(d.Embedding) == 0:
			return nil, p.badResponse(fmt.Errorf("embedding %d is empty", j))
		case len(d.Embedding) != len(wr.Data[0].Embedding):
			return nil, p.badResponse(fmt.Errorf("embedding %d has %d dimensions, another has %d",
				j, len(d.Embedding), len(wr.Data[0].Embedding)))
		}
		for _, x := range d.Embedding {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, p.badResponse(fmt.Errorf("embedding %d holds %v", j, x))
			}
		}
		vecs[j] = d.Embedding
	}
	if got := len(vecs[0]); dims > 0 && got != dims {
		e := llm.Errorf("dimensions", "the model does not support dimensions=%d; it returned %d-dimensional vectors", dims, got)
		e.Code, e.Model, e.Class = "unsupported_parameter", p.model, llm.ClassUnsupported
		return nil, e
	}
	out := &llm.EmbedResponse{Model: cmp.Or(wr.Model, p.upstream), Vectors: vecs}
	if u := wr.Usage; u != nil {
		out.Usage = llm.Usage{PromptTokens: u.PromptTokens, TotalTokens: max(u.TotalTokens, u.PromptTokens)}
	}
	return out, nil
}

var _ provider.Embedder = (*Provider)(nil)
