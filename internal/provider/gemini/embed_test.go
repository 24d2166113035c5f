package gemini

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

func TestEmbed(t *testing.T) {
	f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/embed/basic.resp.json"))
	p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, "")
	resp, err := p.Embed(t.Context(), &llm.EmbedRequest{
		Model:      "test-model",
		Input:      []string{"What is the meaning of life?", ""},
		Dimensions: 256,
		User:       "user-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, f.Last(t), "/v1beta/models/gemini-test:batchEmbedContents", "", "testdata/embed/basic.req.json", testKey)
	out, _ := json.Marshal(resp)
	providertest.CheckGolden(t, "testdata/embed/basic.want.json", out)
	if !resp.Usage.IsZero() {
		t.Errorf("usage = %+v, want zero: the API reports none", resp.Usage)
	}
}

// More inputs than one batch takes are sent in batches of 100, in order.
func TestEmbedBatches(t *testing.T) {
	var (
		mu    sync.Mutex
		sizes []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req embedBatchRequest
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		sizes = append(sizes, len(req.Requests))
		mu.Unlock()
		var b strings.Builder
		b.WriteString(`{"embeddings":[`)
		for i, r := range req.Requests {
			if i > 0 {
				b.WriteByte(',')
			}
			var n int
			fmt.Sscanf(r.Content.Parts[0].Text, "text %d", &n)
			fmt.Fprintf(&b, `{"values":[%d, 0.5]}`, n)
		}
		b.WriteString(`]}`)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL+"/v1beta", srv.Client(), "", "")
	input := make([]string, 250)
	for i := range input {
		input[i] = fmt.Sprintf("text %d", i)
	}
	resp, err := p.Embed(t.Context(), &llm.EmbedRequest{Input: input})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batch sizes = %v", sizes)
	}
	if len(resp.Vectors) != 250 {
		t.Fatalf("%d vectors", len(resp.Vectors))
	}
	for i, v := range resp.Vectors {
		if v[0] != float32(i) {
			t.Fatalf("vector %d is %v: out of order", i, v)
		}
	}
}

func TestEmbedErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		req    *llm.EmbedRequest
		class  llm.Class
		code   string
	}{
		{name: "no input", req: &llm.EmbedRequest{}, class: llm.ClassCaller, code: ""},
		{name: "negative dimensions", req: &llm.EmbedRequest{Input: []string{"a"}, Dimensions: -1}, class: llm.ClassCaller, code: ""},
		{name: "count mismatch", status: 200, body: `{"embeddings":[{"values":[1]}]}`, class: llm.ClassTransient, code: CodeBadResponse},
		{name: "empty vector", status: 200, body: `{"embeddings":[{"values":[]},{"values":[1]}]}`, class: llm.ClassTransient, code: CodeBadResponse},
		{name: "not JSON", status: 200, body: `nope`, class: llm.ClassTransient, code: CodeBadResponse},
		{name: "error in 200", status: 200, body: rpcError(500, "INTERNAL", "boom"), class: llm.ClassTransient, code: "internal"},
		{name: "429", status: 429, body: rpcError(429, "RESOURCE_EXHAUSTED", "slow down", retryInfo30s), class: llm.ClassRateLimit, code: "resource_exhausted"},
		{name: "400", status: 400, body: rpcError(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"),
			class: llm.ClassCaller, code: "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.status, nil, []byte(tt.body))
			p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
			req := tt.req
			if req == nil {
				req = &llm.EmbedRequest{Input: []string{"a", "b"}}
			}
			_, err := p.Embed(t.Context(), req)
			e := llm.AsError(err)
			if e.Class != tt.class || (tt.code != "" && e.Code != tt.code) || e.Model != "test-model" {
				t.Errorf("err = %+v, want class %v code %q", e, tt.class, tt.code)
			}
		})
	}
}
