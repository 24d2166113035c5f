package config

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"

	_ "github.com/sextant-router/sextant/internal/policy/fallback"
)

type fakeProvider struct{}

func (fakeProvider) Chat(context.Context, *llm.Request) (*llm.Response, error) {
	return &llm.Response{}, nil
}
func (fakeProvider) ChatStream(context.Context, *llm.Request) (llm.Stream, error) {
	return nil, nil
}

func init() {
	provider.Register("fake", func(cfg provider.Config) (provider.Provider, error) {
		var opts struct{}
		if err := conf.Decode(cfg.OptionsPath, cfg.Options, &opts); err != nil {
			return nil, err
		}
		return fakeProvider{}, nil
	})
}

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f, BuildOptions{Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(s.Models) == 0 || s.Executor == nil {
				t.Fatalf("empty snapshot: %+v", s)
			}
		})
	}
}

func TestMinimalSnapshot(t *testing.T) {
	s, err := Load("testdata/minimal.good.yaml", BuildOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	large := s.Models["large"]
	if large.Upstream != "large-v2" || large.Price.Cached != 2_500_000 || !large.Has("tools") || large.MaxRetries != -1 {
		t.Errorf("large = %+v", large)
	}
	if s.Models["small"].Upstream != "small" || s.Models["small"].Price.Cached != 240_000 {
		t.Errorf("small = %+v", s.Models["small"])
	}
	if len(s.Routes) != 2 || len(s.Direct) != 2 {
		t.Errorf("routes %d direct %d", len(s.Routes), len(s.Direct))
	}
	if s.File.Server.MaxBodyBytes != 8<<20 || s.File.Store.Path != "sextant.db" {
		t.Errorf("defaults not filled: %+v %+v", s.File.Server, s.File.Store)
	}
}

// TestBadConfigs checks that each bad fixture fails with the error its first
// line names ("# want: ...").
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bufio.NewReader(bytes.NewReader(data)).ReadLine()
			want, ok := strings.CutPrefix(string(first), "# want: ")
			if !ok {
				t.Fatalf("fixture lacks a '# want:' line")
			}
			_, err = Load(f, BuildOptions{Getenv: func(string) string { return "" }})
			if err == nil {
				t.Fatalf("Load succeeded, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestEveryErrorIsReported(t *testing.T) {
	yml := `
models:
  - {name: a, provider: nope}
  - {name: b, provider: fake, capabilities: [x]}
`
	f, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(f, BuildOptions{Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "models[0].provider") || !strings.Contains(err.Error(), "models[1].capabilities[0]") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("models: [{name: 1}]"))
	f.Add([]byte("{1: 2}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		Build(file, BuildOptions{Getenv: func(string) string { return "" }})
	})
}

func TestObservability(t *testing.T) {
	s, err := Load("testdata/observability.good.yaml", BuildOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	o := s.Observability
	if o.Baseline != "large" || o.OTLPEndpoint != "http://127.0.0.1:4318/v1/traces" || o.OTLPHeaders["x-tenant"] != "acme" ||
		o.ReportsDir != filepath.Join("testdata", "reports") || o.AdminKey != "" {
		t.Errorf("observability = %+v", o)
	}
	if s.File.UI.Recent != 500 || s.File.Telemetry.ServiceName != "router-eu" || *s.File.Telemetry.SampleRatio != 0.5 {
		t.Errorf("file = %+v %+v", s.File.UI, s.File.Telemetry)
	}

	// Defaults: the priciest chat model is the baseline, tracing is off,
	// the admin key comes from the environment.
	f, err := Parse([]byte(`
admin: {key_env: ADMIN}
telemetry: {otlp: {endpoint: "https://collector.example:4318/custom"}}
models:
  - {name: cheap, provider: fake, price: {input: 1, output: 1}}
  - {name: dear, provider: fake, price: {input: 5, output: 20}}
  - {name: dear-too, provider: fake, price: {input: 5, output: 20}}
  - {name: embed, provider: fake, price: {input: 100, output: 0}, capabilities: [embeddings]}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err = Build(f, BuildOptions{Getenv: func(k string) string { return map[string]string{"ADMIN": "s3cret"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	o = s.Observability
	if o.Baseline != "dear" || o.AdminKey.Reveal() != "s3cret" || o.OTLPEndpoint != "https://collector.example:4318/custom" ||
		s.File.UI.Recent != 2000 || s.File.Telemetry.ServiceName != "sextant" || s.File.Telemetry.OTLP.Timeout.D() != 10e9 {
		t.Errorf("defaults = %+v, ui %+v", o, s.File.UI)
	}
	if strings.Contains(fmt.Sprint(o), "s3cret") {
		t.Error("the admin key prints")
	}
	if On(nil, true) != true || On(ptr(false), true) != false {
		t.Error("On")
	}
}
