package reload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	_ "github.com/sextant-router/sextant/internal/kinds"
)

// configFor returns a valid config whose models all answer with version.
func configFor(version string) string {
	return fmt.Sprintf(`
models:
  - name: m
    provider: sim
    options: {reply: "answer %[1]s", realtime: false}
  - name: slow
    provider: sim
    options: {reply: "slow %[1]s", ttft: 400ms, tokens_per_second: 40, realtime: true}
routes:
  auto: {fallback: [m]}
`, version)
}

const invalid = `
models:
  - name: m
    provider: sim
routes:
  auto: {fallback: [m, gpt-5]}
`

func write(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// arrived is signalled when a request marked X-Test-Arrived reaches the
// server.
var arrived = make(chan struct{}, 1)

func setup(t *testing.T) (path string, r *Reloader, srv *httptest.Server, eng *engine.Engine) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "sextant.yaml")
	write(t, path, configFor("A"))
	load := func() (*config.Snapshot, error) { return config.Load(path, config.BuildOptions{}) }
	snap, err := load()
	if err != nil {
		t.Fatal(err)
	}
	eng = engine.New(snap, nil)
	gw := gateway.New(eng, nil, nil)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test-Arrived") != "" {
			arrived <- struct{}{}
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return path, New(load, eng, slog.New(slog.DiscardHandler)), srv, eng
}

func chat(base, model string, stream bool) (int, string, error) {
	body := fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hi"}]}`, model, stream)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if model == "slow" {
		req.Header.Set("X-Test-Arrived", "1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if stream {
		if !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
			return resp.StatusCode, string(b), fmt.Errorf("stream did not finish: %q", b)
		}
		var text strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var ch struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
			}
			json.Unmarshal([]byte(data), &ch)
			for _, c := range ch.Choices {
				text.WriteString(c.Delta.Content)
			}
		}
		return resp.StatusCode, text.String(), nil
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) == 0 {
		return resp.StatusCode, string(b), fmt.Errorf("bad body %q", b)
	}
	return resp.StatusCode, out.Choices[0].Message.Content, nil
}

// TestReloadUnderLoadLosesNothing keeps a steady load of requests running
// while the config alternates between two valid versions and an invalid
// one: every request is answered by version A or B, invalid configs are
// rejected with their exact error, and a stream started on one version
// finishes on it.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	path, r, srv, _ := setup(t)
	var rejected []error
	r.OnResult = func(res Result) {
		if res.Err != nil {
			rejected = append(rejected, res.Err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				status, text, err := chat(srv.URL, "auto", w%2 == 0)
				if err != nil || status != 200 || (text != "answer A" && text != "answer B") {
					failed.Add(1)
					t.Errorf("request failed: status %d text %q err %v", status, text, err)
					continue
				}
				served.Add(1)
				mu.Lock()
				seen[text]++
				mu.Unlock()
			}
		}()
	}
	// A slow stream that starts on A must end on A after the swap.
	slowDone := make(chan string, 1)
	go func() {
		_, text, err := chat(srv.URL, "slow", true)
		if err != nil {
			t.Errorf("slow stream: %v", err)
		}
		slowDone <- text
	}()
	<-arrived
	time.Sleep(50 * time.Millisecond) // the engine has taken its snapshot
	for i := range 30 {
		switch i % 3 {
		case 0:
			write(t, path, configFor("B"))
		case 1:
			write(t, path, invalid)
		case 2:
			write(t, path, configFor("A"))
		}
		r.Reload("manual")
		// Let every version serve some requests, however slow the machine.
		for want := served.Load() + 2; served.Load() < want && failed.Load() == 0; {
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	if got := <-slowDone; got != "slow A" {
		t.Errorf("in-flight stream answered %q, want it to finish on its snapshot (slow A)", got)
	}
	if failed.Load() != 0 || served.Load() < 30 {
		t.Errorf("served %d, failed %d", served.Load(), failed.Load())
	}
	if seen["answer A"] == 0 || seen["answer B"] == 0 {
		t.Errorf("both versions should have served: %v", seen)
	}
	if len(rejected) != 10 {
		t.Fatalf("rejected %d configs, want 10", len(rejected))
	}
	if !strings.Contains(rejected[0].Error(), `routes.auto.fallback[1]: unknown model "gpt-5"`) {
		t.Errorf("rejection = %v", rejected[0])
	}
}

// TestRunReloadsOnFileChange checks the watcher: replacing the file swaps
// the config; an invalid file keeps the old one serving.
func TestRunReloadsOnFileChange(t *testing.T) {
	path, r, srv, _ := setup(t)
	r.Debounce = 20 * time.Millisecond
	results := make(chan Result, 8)
	r.OnResult = func(res Result) { results <- res }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, path) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // let the watcher start

	write(t, path, configFor("B"))
	if res := waitResult(t, results); res.Err != nil || res.Trigger != "file" {
		t.Fatalf("reload = %+v", res)
	}
	if _, text, _ := chat(srv.URL, "auto", false); text != "answer B" {
		t.Errorf("after reload answered %q", text)
	}
	write(t, path, invalid)
	if res := waitResult(t, results); res.Err == nil {
		t.Fatal("invalid config accepted")
	}
	if _, text, _ := chat(srv.URL, "auto", false); text != "answer B" {
		t.Errorf("after a rejected reload answered %q, want the old config", text)
	}
}

func waitResult(t *testing.T, results <-chan Result) Result {
	t.Helper()
	select {
	case res := <-results:
		return res
	case <-time.After(5 * time.Second):
		t.Fatal("no reload happened")
		return Result{}
	}
}
