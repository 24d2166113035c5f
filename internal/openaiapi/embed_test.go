package openaiapi

import (
	"encoding/base64"
	"encoding/binary"
	stdjson "encoding/json"
	"math"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestDecodeEmbeddingsRequest(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantParam string
		wantN     int
		wantEnc   string
	}{
		{"string input", `{"model":"e","input":"hello"}`, "", 1, "float"},
		{"list input", `{"model":"e","input":["a","b"],"dimensions":8,"encoding_format":"base64"}`, "", 2, "base64"},
		{"missing model", `{"input":"a"}`, "model", 0, ""},
		{"missing input", `{"model":"e"}`, "input", 0, ""},
		{"empty list", `{"model":"e","input":[]}`, "input", 0, ""},
		{"empty string", `{"model":"e","input":["a",""]}`, "input[1]", 0, ""},
		{"token ids refused", `{"model":"e","input":[1,2,3]}`, "input[0]", 0, ""},
		{"number input", `{"model":"e","input":3}`, "input", 0, ""},
		{"bad dimensions", `{"model":"e","input":"a","dimensions":0}`, "dimensions", 0, ""},
		{"bad encoding", `{"model":"e","input":"a","encoding_format":"hex"}`, "encoding_format", 0, ""},
		{"duplicate key", `{"model":"e","model":"f","input":"a"}`, "model", 0, ""},
		{"not an object", `[1]`, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, enc, err := DecodeEmbeddingsRequest([]byte(tt.body))
			if tt.wantN > 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(req.Input) != tt.wantN || enc != tt.wantEnc {
					t.Errorf("req = %+v enc = %q", req, enc)
				}
				return
			}
			e := llm.AsError(err)
			if err == nil || e.Status != 400 || e.Param != tt.wantParam {
				t.Errorf("err = %+v, want 400 with param %q", e, tt.wantParam)
			}
		})
	}
}

func TestEncodeEmbeddingsSDK(t *testing.T) {
	resp := &llm.EmbedResponse{Model: "e", Vectors: [][]float32{{0.5, -1}, {0.25, 2}}, Usage: llm.Usage{PromptTokens: 4, TotalTokens: 4}}
	b, err := EncodeEmbeddings(resp, EncodingFloat)
	if err != nil {
		t.Fatal(err)
	}
	var got openai.CreateEmbeddingResponse
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 || got.Data[1].Index != 1 || got.Data[1].Embedding[1] != 2 || got.Usage.PromptTokens != 4 || got.Model != "e" {
		t.Errorf("SDK read %s as %+v", b, got)
	}
	b, err = EncodeEmbeddings(resp, EncodingBase64)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := stdjson.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(wire.Data[1].Embedding)
	if err != nil || len(raw) != 8 || math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])) != 2 {
		t.Errorf("base64 vector = %q (%v)", wire.Data[1].Embedding, err)
	}
}
