package anthropic

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
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

const testKey = "sk-ant-test-0123456789abcdef"

// testNow is the clock of every test provider: the Messages API sends no
// creation time, so the adapter stamps responses with it.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFake is a Messages API server (see providertest.Fake): it sends a
// request-id header and streams as text/event-stream; charset=utf-8.
func newFake(t *testing.T, status int, headers map[string]string, body []byte) *providertest.Fake {
	t.Helper()
	f := providertest.NewFake(t, status, headers, body)
	f.BaseHeaders = map[string]string{"Request-Id": "req_fake_0001"}
	f.SSEType = "text/event-stream; charset=utf-8"
	return f
}

// newProvider builds a provider against base with the given options JSON
// and the fixed test clock.
func newProvider(t *testing.T, base string, client *http.Client, key conf.Secret, options string) *Provider {
	t.Helper()
	p, err := New(provider.Config{
		Model:       "test-model",
		Upstream:    "claude-test",
		BaseURL:     base,
		APIKey:      key,
		Options:     json.RawMessage(options),
		OptionsPath: "models[0].options",
		HTTPClient:  client,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pp := p.(*Provider)
	pp.now = func() time.Time { return testNow }
	return pp
}

// checkRequest verifies what a fake received: the documented method, path
// and headers, and the body against a golden file.
func checkRequest(t *testing.T, got providertest.Recorded, golden, key string) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != "/v1/messages" {
		t.Errorf("request %s %s, want POST /v1/messages", got.Method, got.Path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	if v := got.Header.Get("Anthropic-Version"); v != DefaultVersion {
		t.Errorf("anthropic-version = %q, want %q", v, DefaultVersion)
	}
	if k := got.Header.Get("X-Api-Key"); k != key {
		t.Errorf("x-api-key = %q, want %q", k, key)
	}
	if a := got.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none", a)
	}
	providertest.CheckGolden(t, golden, got.Body)
}

func TestRegistered(t *testing.T) {
	f, ok := provider.Lookup("anthropic")
	if !ok {
		t.Fatal(`kind "anthropic" is not registered`)
	}
	p, err := f(provider.Config{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	got := p.(*Provider)
	if got.endpoint != DefaultBaseURL+"/v1/messages" {
		t.Errorf("default endpoint = %q", got.endpoint)
	}
	if got.opts.Version != DefaultVersion || got.opts.DefaultMaxTokens != DefaultMaxTokens {
		t.Errorf("defaults not applied: %+v", got.opts)
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
			case err.Error() != want:
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		base, endpoint, err string
	}{
		{base: "", endpoint: "https://api.anthropic.com/v1/messages"},
		{base: "https://proxy.example/anthropic/", endpoint: "https://proxy.example/anthropic/v1/messages"},
		{base: "http://localhost:8080", endpoint: "http://localhost:8080/v1/messages"},
		{base: "localhost:8080", err: `models[0].base_url: "localhost:8080" is not an absolute http or https URL`},
		{base: "ftp://host", err: `models[0].base_url: "ftp://host" is not an absolute http or https URL`},
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

// A fake's view of the headers: the key only when set, the version and
// beta options, extra headers last.
func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		key     conf.Secret
		options string
		want    map[string]string
	}{
		{name: "no key", want: map[string]string{"X-Api-Key": "", "Authorization": "", "Anthropic-Beta": "",
			"Anthropic-Version": DefaultVersion, "Accept": "application/json", "Content-Type": "application/json"}},
		{name: "key", key: testKey, want: map[string]string{"X-Api-Key": testKey, "Authorization": ""}},
		{name: "version and beta", key: testKey,
			options: `{"version": "2024-01-01", "beta": ["prompt-caching-2024-07-31", "token-efficient-tools-2025-02-19"]}`,
			want: map[string]string{"Anthropic-Version": "2024-01-01",
				"Anthropic-Beta": "prompt-caching-2024-07-31,token-efficient-tools-2025-02-19"}},
		{name: "extra headers override the key", key: testKey,
			options: `{"headers": {"X-Title": "sextant", "x-api-key": "proxy-key"}}`,
			want:    map[string]string{"X-Title": "sextant", "X-Api-Key": "proxy-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/plain.resp.json"))
			p := newProvider(t, f.URL, f.Client(), tt.key, tt.options)
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
