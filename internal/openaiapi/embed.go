package openaiapi

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// Embedding limits, as OpenAI documents them.
const (
	maxEmbedInputs     = 2048
	maxEmbedDimensions = 65536
)

// Embedding encodings a client may ask for.
const (
	EncodingFloat  = "float"
	EncodingBase64 = "base64"
)

type wireEmbedRequest struct {
	Model          string         `json:"model"`
	Input          jsontext.Value `json:"input"`
	Dimensions     *int           `json:"dimensions"`
	EncodingFormat string         `json:"encoding_format"`
	User           string         `json:"user"`
}

// DecodeEmbeddingsRequest decodes the body of POST /v1/embeddings. Input is
// a string or a list of strings; token-id inputs are refused as
// unsupported, since Sextant routes across tokenizers. It also returns the
// encoding the client wants ("float" or "base64"). Errors are *llm.Error
// 400s with Param set, as for DecodeChatRequest.
func DecodeEmbeddingsRequest(body []byte) (*llm.EmbedRequest, string, error) {
	var w wireEmbedRequest
	if err := json.Unmarshal(body, &w, decodeOptions); err != nil {
		return nil, "", jsonError(err, "", body)
	}
	if jsontext.Value(body).Kind() != '{' {
		return nil, "", invalid(CodeInvalidType, "", "The request body must be a JSON object, but got null instead.")
	}
	if w.Model == "" {
		return nil, "", missing("model")
	}
	if len(w.Input) == 0 {
		return nil, "", missing("input")
	}
	req := &llm.EmbedRequest{Model: w.Model, User: w.User}
	switch w.Input.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(w.Input, &s, decodeOptions); err != nil {
			return nil, "", jsonError(err, "input", w.Input)
		}
		req.Input = []string{s}
	case '[':
		var raw []jsontext.Value
		if err := json.Unmarshal(w.Input, &raw, decodeOptions); err != nil {
			return nil, "", jsonError(err, "input", w.Input)
		}
		for i, v := range raw {
			if v.Kind() != '"' {
				return nil, "", invalid(CodeUnsupportedValue, indexParam("input", i), "Only string inputs are supported; token arrays are not, because models behind a route use different tokenizers.")
			}
			var s string
			if err := json.Unmarshal(v, &s, decodeOptions); err != nil {
				return nil, "", jsonError(err, indexParam("input", i), v)
			}
			req.Input = append(req.Input, s)
		}
	default:
		return nil, "", wrongType("input", "a string or an array of strings", jsonname.Kind(w.Input.Kind()))
	}
	if len(req.Input) == 0 {
		return nil, "", emptyArray("input")
	}
	if len(req.Input) > maxEmbedInputs {
		return nil, "", invalid(CodeInvalidValue, "input", "At most %d inputs are allowed, got %d.", maxEmbedInputs, len(req.Input))
	}
	for i, s := range req.Input {
		if s == "" {
			return nil, "", invalid(CodeInvalidValue, indexParam("input", i), "Inputs must not be empty strings.")
		}
	}
	if w.Dimensions != nil {
		if e := intRange("dimensions", w.Dimensions, 1, maxEmbedDimensions); e != nil {
			return nil, "", e
		}
		req.Dimensions = *w.Dimensions
	}
	switch w.EncodingFormat {
	case "", EncodingFloat:
		w.EncodingFormat = EncodingFloat
	case EncodingBase64:
	default:
		return nil, "", invalid(CodeInvalidValue, "encoding_format", "encoding_format must be \"float\" or \"base64\", got %s.", jsonname.Quote(w.EncodingFormat))
	}
	return req, w.EncodingFormat, nil
}

func indexParam(p string, i int) string { return paramOf(p, jsontext.Pointer("/"+strconv.Itoa(i))) }

type wireEmbedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type wireEmbedUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

type wireEmbedResponse struct {
	Object string          `json:"object"`
	Data   []wireEmbedding `json:"data"`
	Model  string          `json:"model"`
	Usage  wireEmbedUsage  `json:"usage"`
}

// EncodeEmbeddings writes resp in OpenAI's embeddings shape, each vector as
// a list of floats or, for encoding "base64", as base64 of its
// little-endian float32 bytes.
func EncodeEmbeddings(resp *llm.EmbedResponse, encoding string) ([]byte, error) {
	out := wireEmbedResponse{Object: "list", Model: resp.Model, Data: make([]wireEmbedding, len(resp.Vectors)),
		Usage: wireEmbedUsage{PromptTokens: resp.Usage.PromptTokens, TotalTokens: max(resp.Usage.TotalTokens, resp.Usage.PromptTokens)}}
	for i, v := range resp.Vectors {
		var emb any = v
		if v == nil {
			emb = []float32{}
		}
		if encoding == EncodingBase64 {
			buf := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		out.Data[i] = wireEmbedding{Object: "embedding", Index: i, Embedding: emb}
	}
	return json.Marshal(out)
}
