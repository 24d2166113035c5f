package gemini

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

const testKey = "AIzaSyTest-0123456789abcdefghijklmnopq"

// fixedNow is the clock of test providers: created timestamps and
// HTTP-date Retry-After are computed from it.
var fixedNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFake is a Gemini API server (see providertest.Fake): it sends JSON
// as application/json; charset=UTF-8.
func newFake(t *testing.T, status int, headers map[string]string, body []byte) *providertest.Fake {
	t.Helper()
	f := providertest.NewFake(t, status, headers, body)
	f.JSONType = "application/json; charset=UTF-8"
	return f
}

// newProvider builds a provider of upstream "gemini-test" against base
// with the given options JSON and a fixed clock.
func newProvider(t *testing.T, base string, client *http.Client, key conf.Secret, options string) *Provider {
	t.Helper()
	p, err := New(provider.Config{
		Model:       "test-model",
		Upstream:    "gemini-test",
		BaseURL:     base,
		APIKey:      key,
		Options:     json.RawMessage(options),
		OptionsPath: "models[0].options",
		HTTPClient:  client,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	gp := p.(*Provider)
	gp.now = func() time.Time { return fixedNow }
	return gp
}

// checkRequest verifies what a fake received: POST to path with the
// documented headers, the key only in x-goog-api-key and never in the URL,
// and the body against a golden file.
func checkRequest(t *testing.T, got providertest.Recorded, path, query, golden, key string) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != path || got.Query != query {
		t.Errorf("request %s %s?%s, want POST %s?%s", got.Method, got.Path, got.Query, path, query)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if k := got.Header.Get("x-goog-api-key"); k != key {
		t.Errorf("x-goog-api-key = %q, want %q", k, key)
	}
	if a := got.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none", a)
	}
	if key != "" && (strings.Contains(got.Path, key) || strings.Contains(got.Query, key)) {
		t.Errorf("the API key is in the URL: %s?%s", got.Path, got.Query)
	}
	providertest.CheckGolden(t, golden, got.Body)
}

func ptr[T any](v T) *T { return &v }

func simpleRequest() *llm.Request {
	return &llm.Request{
		Model:    "test-model",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Hello!"}},
	}
}

func TestRegistered(t *testing.T) {
	f, ok := provider.Lookup("gemini")
	if !ok {
		t.Fatal(`kind "gemini" is not registered`)
	}
	p, err := f(provider.Config{Upstream: "gemini-2.5-flash", HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	gp := p.(*Provider)
	if got := gp.endpoint("models/gemini-2.5-flash", "generateContent"); got != DefaultBaseURL+"/models/gemini-2.5-flash:generateContent" {
		t.Errorf("default endpoint = %q", got)
	}
	if _, ok := p.(provider.Embedder); !ok {
		t.Error("the provider does not serve embeddings")
	}
}

// TestOptions decodes testdata/options/*.good.yaml and *.bad.yaml; a bad
// fixture names the error it must produce in a "# want:" first line, and
// may name a base_url in a "# base_url:" line.
func TestOptions(t *testing.T) {
	files, err := filepath.Glob("testdata/options/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src := providertest.ReadFile(t, file)
			var v any
			if err := yaml.Unmarshal(src, &v); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			base := ""
			for _, line := range strings.Split(string(src), "\n") {
				if b, ok := strings.CutPrefix(line, "# base_url: "); ok {
					base = b
				}
			}
			_, err = New(provider.Config{BaseURL: base, Options: raw, OptionsPath: "models[0].options", HTTPClient: http.DefaultClient})
			want, bad := strings.CutPrefix(strings.SplitN(string(src), "\n", 2)[0], "# want: ")
			switch {
			case !strings.HasSuffix(file, ".bad.yaml"):
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
			case !bad:
				t.Fatal(`a .bad.yaml fixture needs a "# want: <error>" first line`)
			case err == nil:
				t.Errorf("no error, want %q", want)
			case err.Error() != want:
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestOptionsApplied(t *testing.T) {
	p := newProvider(t, "", http.DefaultClient, "", `{"thought_signature_fallback": false,
		"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]}`)
	if p.opts.signatureFallback() || len(p.opts.SafetySettings) != 1 {
		t.Errorf("options not applied: %+v", p.opts)
	}
	p = newProvider(t, "", http.DefaultClient, "", "")
	if !p.opts.signatureFallback() || p.opts.SafetySettings != nil || p.opts.Headers != nil {
		t.Errorf("defaults not applied: %+v", p.opts)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		name, base, options, endpoint, err string
	}{
		{name: "default", endpoint: "https://generativelanguage.googleapis.com/v1beta/models/gemini-test:generateContent"},
		{name: "api_version", options: `{"api_version": "v1"}`,
			endpoint: "https://generativelanguage.googleapis.com/v1/models/gemini-test:generateContent"},
		{name: "trailing slash", base: "http://localhost:8080/v1beta/", endpoint: "http://localhost:8080/v1beta/models/gemini-test:generateContent"},
		{name: "proxy path", base: "https://gateway.example/google/v1beta", endpoint: "https://gateway.example/google/v1beta/models/gemini-test:generateContent"},
		{name: "no scheme", base: "localhost:8080", err: `models[0].base_url: "localhost:8080" is not an absolute http or https URL without a query`},
		{name: "ftp", base: "ftp://host/v1beta", err: `models[0].base_url: "ftp://host/v1beta" is not an absolute http or https URL without a query`},
		{name: "query", base: "https://host/v1beta?key=x", err: `models[0].base_url: "https://host/v1beta?key=x" is not an absolute http or https URL without a query`},
		{name: "api_version with base_url", base: "https://host/v1beta", options: `{"api_version": "v1"}`,
			err: "models[0].options.api_version: cannot be combined with base_url; put the version in base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(provider.Config{Upstream: "gemini-test", BaseURL: tt.base, Options: json.RawMessage(tt.options),
				OptionsPath: "models[0].options", HTTPClient: http.DefaultClient})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gp := p.(*Provider)
			model, _ := gp.modelName("")
			if got := gp.endpoint(model, "generateContent"); got != tt.endpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.endpoint)
			}
		})
	}
}

func TestModelName(t *testing.T) {
	tests := []struct {
		upstream, requested, path string
	}{
		{upstream: "gemini-2.5-flash", path: "/v1beta/models/gemini-2.5-flash:generateContent"},
		{upstream: "models/gemini-2.5-pro", path: "/v1beta/models/gemini-2.5-pro:generateContent"},
		{upstream: "tunedModels/my-model-123", path: "/v1beta/tunedModels/my-model-123:generateContent"},
		{requested: "gemini-2.0-flash", path: "/v1beta/models/gemini-2.0-flash:generateContent"},
		// A name cannot smuggle a query or a fragment into the URL: the
		// fake sees them escaped inside the path.
		{upstream: "x?key=1#y", path: "/v1beta/models/x?key=1#y:generateContent"},
	}
	for _, tt := range tests {
		t.Run(tt.upstream+tt.requested, func(t *testing.T) {
			f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/text.resp.json"))
			p, err := New(provider.Config{Upstream: tt.upstream, BaseURL: f.URL + "/v1beta", HTTPClient: f.Client()})
			if err != nil {
				t.Fatal(err)
			}
			req := simpleRequest()
			req.Model = tt.requested
			if _, err := p.Chat(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			got := f.Last(t)
			if got.Path != tt.path {
				t.Errorf("path = %q, want %q", got.Path, tt.path)
			}
			if got.Query != "" {
				t.Errorf("query = %q, want none", got.Query)
			}
		})
	}
}

// A fake's view of the headers: the key in x-goog-api-key only when set,
// and extra headers from the options.
func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		key     conf.Secret
		options string
		want    map[string]string
	}{
		{name: "no key", want: map[string]string{"x-goog-api-key": "", "Authorization": "", "Accept": "application/json", "User-Agent": "sextant"}},
		{name: "key", key: testKey, want: map[string]string{"x-goog-api-key": testKey}},
		{name: "extra headers override", key: testKey,
			options: `{"headers": {"X-Goog-User-Project": "proj-1", "x-goog-api-key": "from-options"}}`,
			want:    map[string]string{"X-Goog-User-Project": "proj-1", "x-goog-api-key": "from-options"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/text.resp.json"))
			p := newProvider(t, f.URL+"/v1beta", f.Client(), tt.key, tt.options)
			if _, err := p.Chat(t.Context(), simpleRequest()); err != nil {
				t.Fatal(err)
			}
			got := f.Last(t)
			for k, v := range tt.want {
				if got.Header.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Header.Get(k), v)
				}
			}
			if strings.Contains(got.Path+got.Query, testKey) {
				t.Error("the API key is in the URL")
			}
		})
	}
}
