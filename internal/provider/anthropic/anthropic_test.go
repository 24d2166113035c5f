package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const testKey = "sk-ant-test-0123456789abcdef"

// testNow is the clock of every test provider: the Messages API sends no
// creation time, so the adapter stamps responses with it.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a Messages API server. It records each request and answers with
// a fixed status, headers and body; an SSE body is written one event at a
// time with a flush after each, as the real server streams.
type fake struct {
	*httptest.Server

	status  int
	headers map[string]string
	body    []byte
	sse     bool

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

func newFake(t *testing.T, status int, headers map[string]string, body []byte) *fake {
	t.Helper()
	f := &fake{status: status, headers: headers, body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
	f.mu.Unlock()
	w.Header().Set("Request-Id", "req_fake_0001")
	for k, v := range f.headers {
		w.Header().Set(k, v)
	}
	if f.sse {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(f.status)
		for _, ev := range splitEvents(f.body) {
			w.Write(ev)
			w.(http.Flusher).Flush()
		}
		return
	}
	if w.Header().Get("Content-Type") == "" && json.Valid(f.body) {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.status)
	w.Write(f.body)
}

// last returns the last request the fake received.
func (f *fake) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// count returns how many requests the fake received.
func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// splitEvents cuts an SSE body after each blank line, keeping terminators.
func splitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+2])
		b = b[i+2:]
	}
	return out
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
func checkRequest(t *testing.T, got recorded, golden, key string) {
	t.Helper()
	if got.method != http.MethodPost || got.path != "/v1/messages" {
		t.Errorf("request %s %s, want POST /v1/messages", got.method, got.path)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	if v := got.header.Get("Anthropic-Version"); v != DefaultVersion {
		t.Errorf("anthropic-version = %q, want %q", v, DefaultVersion)
	}
	if k := got.header.Get("X-Api-Key"); k != key {
		t.Errorf("x-api-key = %q, want %q", k, key)
	}
	if a := got.header.Get("Authorization"); a != "" {
		t.Errorf("Authorization = %q, want none", a)
	}
	checkGolden(t, golden, got.body)
}

// checkGolden compares data, as indented JSON, with the golden file at path,
// or rewrites the file under -update.
func checkGolden(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", path, err, data)
	}
	buf.WriteByte('\n')
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs (run go test -update to accept):\n got: %s\nwant: %s", path, buf.Bytes(), want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
			src := readFile(t, file)
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
			f := newFake(t, 200, nil, readFile(t, "testdata/chat/plain.resp.json"))
			p := newProvider(t, f.URL, f.Client(), tt.key, tt.options)
			if _, err := p.Chat(t.Context(), simpleRequest()); err != nil {
				t.Fatal(err)
			}
			got := f.last(t).header
			for k, v := range tt.want {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
}
