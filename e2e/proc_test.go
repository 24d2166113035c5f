package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// Bounds of the waits in this package. They only keep a broken build from
// hanging the run; no assertion depends on them.
const (
	startTimeout   = 60 * time.Second // the race-built binary starts slowly on a loaded machine
	requestTimeout = 30 * time.Second
	exitTimeout    = 30 * time.Second
)

// listening matches the log line that names the bound address.
var listening = regexp.MustCompile(`msg="sextant listening" addr=(http://\S+)`)

// proc is one running `sextant serve`, with a client for it bound to the
// test that started it.
type proc struct {
	*client
	cmd *exec.Cmd
	dir string // working directory: the config and the decision log live here

	mu   sync.Mutex
	logs bytes.Buffer // stderr so far

	done    chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, valid after done
}

// startDefault starts sextant with its embedded default config.
func startDefault(t *testing.T) *proc {
	t.Helper()
	return startProc(t, t.TempDir(), nil, "serve", "--addr", "127.0.0.1:0")
}

// startConfig writes yaml to sextant.yaml in a fresh directory and starts
// sextant with it and with env ("NAME=value") added to the environment.
func startConfig(t *testing.T, yaml string, env ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	path := writeFile(t, dir, "sextant.yaml", yaml)
	return startProc(t, dir, env, "serve", "--config", path, "--addr", "127.0.0.1:0")
}

func startProc(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{client: &client{t: t}, dir: dir, done: make(chan struct{})}
	p.cmd = exec.Command(sextantBin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go p.readLogs(stderr, addr)
	t.Cleanup(p.cleanup)

	select {
	case base := <-addr:
		p.base = base
	case <-p.done:
		t.Fatalf("sextant exited before listening (%v):\n%s", p.waitErr, p.stderr())
	case <-time.After(startTimeout):
		t.Fatalf("sextant did not log its address within %v:\n%s", startTimeout, p.stderr())
	}
	p.http = &http.Client{Transport: &http.Transport{}}
	p.sdk = openai.NewClient(
		option.WithBaseURL(p.base+"/v1/"),
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(p.http),
	)
	return p
}

// cleanEnv is the test's environment without the variables that would make
// the default config call live providers or move the listener.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "OPENAI_"), strings.HasPrefix(name, "OLLAMA_"), name == "SEXTANT_ADDR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// readLogs copies stderr into p.logs, reports the listening address once,
// and reaps the process when stderr closes.
func (p *proc) readLogs(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.logs.WriteString(line)
		p.logs.WriteByte('\n')
		p.mu.Unlock()
		if m := listening.FindStringSubmatch(line); m != nil && !sent {
			addr <- m[1]
			sent = true
		}
	}
	io.Copy(io.Discard, r) // a line longer than the buffer: keep draining
	p.waitErr = p.cmd.Wait()
	close(p.done)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// cleanup kills the process if it still runs, waits for it, and fails the
// test when the race detector reported a race in the server.
func (p *proc) cleanup() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
	if p.http != nil {
		p.http.CloseIdleConnections()
	}
	logs := p.stderr()
	if strings.Contains(logs, "WARNING: DATA RACE") {
		p.t.Errorf("the race detector reported a race in sextant:\n%s", logs)
	} else if p.t.Failed() {
		p.t.Logf("sextant stderr:\n%s", logs)
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		p.t.Fatalf("sextant did not exit within %v", exitTimeout)
	}
	var ee *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.t.Fatalf("sextant died of %v", ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatal(p.waitErr)
	return -1
}

// client talks to one server on behalf of one test.
type client struct {
	t    *testing.T
	base string // e.g. http://127.0.0.1:41234
	http *http.Client
	sdk  openai.Client
	// header holds name, value pairs sent with every raw request, such as
	// a virtual key.
	header []string
}

// with returns a client for the same server reporting to t, for subtests
// that share a server.
func (c *client) with(t *testing.T) *client {
	cp := *c
	cp.t = t
	return &cp
}

// ctx is a context for one request, canceled when the test ends.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), requestTimeout)
	t.Cleanup(cancel)
	return c
}

// do sends a request to the server and returns the response with its body
// read.
func (c *client) do(method, path, contentType string, body io.Reader, header ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx(c.t), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	header = append(append([]string{}, c.header...), header...)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

// getJSON GETs path, wants status, and decodes the body into v.
func (c *client) getJSON(path string, status int, v any) {
	c.t.Helper()
	resp, b := c.do(http.MethodGet, path, "", nil)
	if resp.StatusCode != status {
		c.t.Fatalf("GET %s = %d, want %d: %s", path, resp.StatusCode, status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
}

// postJSON POSTs v as JSON to path and returns the response and its body.
func (c *client) postJSON(path string, v any, header ...string) (*http.Response, []byte) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(http.MethodPost, path, "application/json", bytes.NewReader(b), header...)
}

// decision is the part of GET /v1/decisions/{id} the tests read.
type decision struct {
	RequestID    string    `json:"request_id"`
	Route        string    `json:"route"`
	Model        string    `json:"model"`
	Status       int       `json:"status"`
	ErrorType    string    `json:"error_type"`
	ErrorMessage string    `json:"error_message"`
	Stream       bool      `json:"stream"`
	Usage        usage     `json:"usage"`
	CostMicros   int64     `json:"cost_micros"`
	TTFTMS       float64   `json:"ttft_ms"`
	CallerKey    string    `json:"caller_key"`
	CallerTier   string    `json:"caller_tier"`
	Trace        traceView `json:"trace"`
}

type usage struct {
	PromptTokens     int  `json:"prompt_tokens"`
	CompletionTokens int  `json:"completion_tokens"`
	TotalTokens      int  `json:"total_tokens"`
	Estimated        bool `json:"estimated"`
}

type traceView struct {
	Decisions []struct {
		Node     string `json:"node"`
		Kind     string `json:"kind"`
		Decision string `json:"decision"`
	} `json:"decisions"`
	Attempts []attempt `json:"attempts"`
}

type attempt struct {
	Model      string `json:"model"`
	Provider   string `json:"provider"`
	Try        int    `json:"try"`
	Stream     bool   `json:"stream"`
	Outcome    string `json:"outcome"`
	Status     int    `json:"status"`
	ErrorClass string `json:"error_class"`
	Error      string `json:"error"`
	Usage      usage  `json:"usage"`
	CostMicros int64  `json:"cost_micros"`
}

// extension is the "sextant" member of a traced response.
type extension struct {
	RequestID string    `json:"request_id"`
	Route     string    `json:"route"`
	Kind      string    `json:"kind"`
	Model     string    `json:"model"`
	CostUSD   string    `json:"cost_usd"`
	Usage     usage     `json:"usage"`
	Trace     traceView `json:"trace"`
}

// decision polls GET /v1/decisions/{id} until the record is there and
// done(d) holds: the request's record is handed to the decision log only
// after the last byte of the response was written, so a client can be a
// moment faster than the log.
func (c *client) decision(id string, done func(decision) bool) decision {
	c.t.Helper()
	deadline := time.Now().Add(requestTimeout)
	for {
		resp, b := c.do(http.MethodGet, "/v1/decisions/"+id, "", nil)
		var d decision
		switch resp.StatusCode {
		case http.StatusOK:
			if err := json.Unmarshal(b, &d); err != nil {
				c.t.Fatalf("decision %s: %v in %s", id, err, b)
			}
			if done == nil || done(d) {
				return d
			}
		case http.StatusNotFound:
		default:
			c.t.Fatalf("GET /v1/decisions/%s = %d: %s", id, resp.StatusCode, b)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("decision %s not recorded as expected within %v; last answer %d: %s", id, requestTimeout, resp.StatusCode, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wireError is the OpenAI error envelope.
type wireError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// parseError decodes an OpenAI-shaped error body, failing the test when the
// envelope is not exactly {"error":{"message","type","param","code"}}.
func parseError(t *testing.T, b []byte) wireError {
	t.Helper()
	var shape map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &shape); err != nil || len(shape) != 1 || shape["error"] == nil {
		t.Fatalf("not an OpenAI error envelope: %s", b)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := shape["error"][k]; !ok {
			t.Errorf("error member %q missing: %s", k, b)
		}
	}
	var e wireError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Errorf("error without message or type: %s", b)
	}
	return e
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sseReader reads the data of server-sent events one at a time.
type sseReader struct{ r *bufio.Reader }

func newSSEReader(r io.Reader) *sseReader { return &sseReader{bufio.NewReader(r)} }

// next returns the data of the next event, or io.EOF at the end of the
// body. Sextant sends one data line per event.
func (s *sseReader) next() (string, error) {
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && (line != "" || len(data) > 0) {
				return "", fmt.Errorf("event cut off: %q", strings.Join(data, "\n")+line)
			}
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && len(data) > 0:
			return strings.Join(data, "\n"), nil
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// all reads the remaining events up to the end of the body.
func (s *sseReader) all() ([]string, error) {
	var out []string
	for {
		ev, err := s.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

// chunk is the part of a chat.completion.chunk the tests read.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Delta struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *usage          `json:"usage"`
	Sextant *extension      `json:"sextant"`
	Error   json.RawMessage `json:"error"`
}

func parseChunk(t *testing.T, data string) chunk {
	t.Helper()
	var c chunk
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		t.Fatalf("bad stream event %q: %v", data, err)
	}
	return c
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func chatBody(model, prompt string, stream bool) map[string]any {
	b := map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": prompt}}}
	if stream {
		b["stream"] = true
	}
	return b
}
