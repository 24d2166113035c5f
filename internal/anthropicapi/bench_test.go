package anthropicapi

import (
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

// typicalRequest is the common shape of traffic: a system prompt and one
// user turn, streamed.
const typicalRequest = `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,` +
	`"system":"You are a helpful assistant. Answer concisely and cite sources when you can.",` +
	`"messages":[{"role":"user","content":"I am planning a three-day trip to Lisbon in early May. Which neighbourhoods should I stay in, ` +
	`what are the must-see sights, and how do I get around without a car? Please keep it under 200 words."}],` +
	`"temperature":0.7,"metadata":{"user_id":"user-1234"}}`

func BenchmarkDecodeMessagesRequest(b *testing.B) {
	body := []byte(typicalRequest)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessagesRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEncoderText measures the per-token cost of a stream: one
// text delta chunk.
func BenchmarkStreamEncoderText(b *testing.B) {
	enc := NewStreamEncoder("claude-sonnet-4-5")
	ch := &llm.Chunk{ID: "chatcmpl-abc123", Model: "gpt-4o-mini", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: " neighbourhood"}}}}
	if _, err := enc.Chunk(ch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Chunk(ch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	resp := responseToolCalls()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeMessage(resp, "claude-sonnet-4-5"); err != nil {
			b.Fatal(err)
		}
	}
}
