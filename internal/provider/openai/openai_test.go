package openai

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

const testKey = "sk-test-0123456789abcdef"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newProvider builds a provider against base with the given options JSON.
func newProvider(t *testing.T, base string, client *http.Client, key conf.Secret, options string) *Provider {
	t.Helper()
	p, err := New(provider.Config{
		Model:       "test-model",
		Upstream:    "gpt-test",
		BaseURL:     base,
		APIKey:      key,
		Options:     json.RawMessage(options),
		OptionsPath: "models[0].options",
		HTTPClient:  client,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p.(*Provider)
}

// checkRequest verifies what a fake received: the documented method, path
// and headers, and the body against a golden file.
func checkRequest(t *testing.T, got providertest.Recorded, golden, key string) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != "/v1/chat/completions" {
		t.Errorf("request %s %s, want POST /v1/chat/completions", got.Method, got.Path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	wantAuth := ""
	if key != "" {
		wantAuth = "Bearer " + key
	}
	if a := got.Header.Get("Authorization"); a != wantAuth {
		t.Errorf("Authorization = %q, want %q", a, wantAuth)
	}
	providertest.CheckGolden(t, golden, got.Body)
}

func TestRegistered(t *testing.T) {
	f, ok := provider.Lookup("openai")
	if !ok {
		t.Fatal(`kind "openai" is not registered`)
	}
	p, err := f(provider.Config{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*Provider).endpoint; got != DefaultBaseURL+"/chat/completions" {
		t.Errorf("default endpoint = %q", got)
	}
}

// TestOptions decodes testdata/options/*.good.yaml and *.bad.yaml; a bad
// fixture names the error it must produce in a "# want:" first line.
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
			_, err = New(provider.Config{Options: raw, OptionsPath: "models[0].options", HTTPClient: http.DefaultClient})
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
			case !strings.Contains(err.Error(), want):
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestOptionsApplied(t *testing.T) {
	p := newProvider(t, "", http.DefaultClient, "", `{"max_tokens_field": "max_completion_tokens", "stream_usage": false}`)
	if p.opts.MaxTokensField != FieldMaxCompletionTokens || p.opts.streamUsage() {
		t.Errorf("options not applied: %+v", p.opts)
	}
	p = newProvider(t, "", http.DefaultClient, "", "")
	if p.opts.MaxTokensField != FieldMaxTokens || !p.opts.streamUsage() || p.opts.SendMetadata {
		t.Errorf("defaults not applied: %+v", p.opts)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		base, endpoint, err string
	}{
		{base: "", endpoint: "https://api.openai.com/v1/chat/completions"},
		{base: "http://localhost:11434/v1/", endpoint: "http://localhost:11434/v1/chat/completions"},
		{base: "https://openrouter.example/api/v1", endpoint: "https://openrouter.example/api/v1/chat/completions"},
		{base: "localhost:8080", err: `models[0].base_url: "localhost:8080" is not an absolute http or https URL`},
		{base: "ftp://host/v1", err: `models[0].base_url: "ftp://host/v1" is not an absolute http or https URL`},
		{base: "/v1", err: `models[0].base_url: "/v1" is not an absolute http or https URL`},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			p, err := New(provider.Config{BaseURL: tt.base, OptionsPath: "models[0].options", HTTPClient: http.DefaultClient})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.(*Provider).endpoint; got != tt.endpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.endpoint)
			}
		})
	}
}

// A fake's view of the headers: the key only when set, organization,
// project and extra headers from the options.
func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		key     conf.Secret
		options string
		want    map[string]string
	}{
		{name: "no key", want: map[string]string{"Authorization": "", "OpenAI-Organization": "", "Accept": "application/json"}},
		{name: "key", key: testKey, want: map[string]string{"Authorization": "Bearer " + testKey}},
		{name: "organization and project", key: testKey,
			options: `{"organization": "org-1", "project": "proj_1"}`,
			want:    map[string]string{"OpenAI-Organization": "org-1", "OpenAI-Project": "proj_1"}},
		{name: "extra headers override", key: testKey,
			options: `{"headers": {"X-Title": "sextant", "Authorization": "Token abc"}}`,
			want:    map[string]string{"X-Title": "sextant", "Authorization": "Token abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/plain.resp.json"))
			p := newProvider(t, f.URL+"/v1", f.Client(), tt.key, tt.options)
			if _, err := p.Chat(t.Context(), simpleRequest()); err != nil {
				t.Fatal(err)
			}
			got := f.Last(t).Header
			for k, v := range tt.want {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
}
