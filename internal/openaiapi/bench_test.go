package openaiapi

import (
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

// typicalRequest is the common shape of traffic: a system prompt and one
// user turn, a few sampling parameters, streamed with usage.
const typicalRequest = `{"model":"gpt-4o-mini","messages":[` +
	`{"role":"system","content":"You are a helpful assistant. Answer concisely and cite sources when you can."},` +
	`{"role":"user","content":"I am planning a three-day trip to Lisbon in early May. Which neighbourhoods should I stay in, ` +
	`what are the must-see sights, and how do I get around without a car? Please keep it under 200 words."}],` +
	`"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true},"user":"user-1234"}`

func BenchmarkDecodeChatRequest(b *testing.B) {
	body := []byte(typicalRequest)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeChunk(b *testing.B) {
	ch := &llm.Chunk{ID: "chatcmpl-abc123", Created: 1_700_000_000, Model: "gpt-4o-mini",
		SystemFingerprint: "fp_0123456789", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: " neighbourhood"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChunk(ch, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeChatResponse(b *testing.B) {
	resp := responseText()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChatResponse(resp); err != nil {
			b.Fatal(err)
		}
	}
}
