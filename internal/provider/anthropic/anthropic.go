package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
)

func init() { provider.Register("anthropic", New) }

const (
	// DefaultBaseURL is used when a model's base_url is empty. Requests go
	// to {base_url}/v1/messages.
	DefaultBaseURL = "https://api.anthropic.com"
	// DefaultVersion is the anthropic-version header sent when the options
	// name none.
	DefaultVersion = "2023-06-01"
	// DefaultMaxTokens is the max_tokens sent when neither the request nor
	// the options set one; the Messages API requires the field.
	DefaultMaxTokens = 4096
)

// maxResponse bounds the body of a non-streamed response, in bytes.
const maxResponse = 32 << 20

// Options is the provider's "options" block. See the package doc.
type Options struct {
	// Version is sent as anthropic-version. Default DefaultVersion.
	Version string `json:"version"`
	// Beta names beta features, sent comma-separated as anthropic-beta.
	Beta []string `json:"beta"`
	// Headers are sent with every request, after the adapter's own headers,
	// so they can replace x-api-key (for a proxy with its own scheme).
	// Values are secrets: they never appear in logs or dumps.
	Headers map[string]conf.Secret `json:"headers"`
	// DefaultMaxTokens is sent as max_tokens when the request sets none.
	// Default DefaultMaxTokens.
	DefaultMaxTokens int `json:"default_max_tokens"`
}

func (o *Options) validate(path string) error {
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if !validHeaderValue(o.Version) {
		return conf.Errorf(conf.Join(path, "version"), "must not contain a line break")
	}
	for i, b := range o.Beta {
		if b == "" || strings.ContainsAny(b, ", \t\r\n\x00") {
			return conf.Errorf(conf.Index(conf.Join(path, "beta"), i),
				"%q is not a beta name (one name per entry, no commas or spaces)", b)
		}
	}
	switch {
	case o.DefaultMaxTokens == 0:
		o.DefaultMaxTokens = DefaultMaxTokens
	case o.DefaultMaxTokens < 0:
		return conf.Errorf(conf.Join(path, "default_max_tokens"), "must be positive, not %d", o.DefaultMaxTokens)
	}
	for _, name := range slices.Sorted(maps.Keys(o.Headers)) {
		hp := conf.Join(path, "headers."+name)
		switch {
		case !validHeaderName(name):
			return conf.Errorf(hp, "invalid header name")
		case strings.EqualFold(name, "Content-Type") || strings.EqualFold(name, "Content-Length"):
			return conf.Errorf(hp, "the adapter sets this header itself")
		case strings.EqualFold(name, "anthropic-version"):
			return conf.Errorf(hp, "use the version option")
		case strings.EqualFold(name, "anthropic-beta"):
			return conf.Errorf(hp, "use the beta option")
		case !validHeaderValue(o.Headers[name].Reveal()):
			return conf.Errorf(hp, "header value must not contain a line break")
		}
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c >= 0x7f || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool { return !strings.ContainsAny(s, "\r\n\x00") }

// Provider calls one deployment behind Anthropic's Messages API. It is safe
// for concurrent use and immutable once built.
type Provider struct {
	model    string // catalog name, for errors
	upstream string
	endpoint string
	key      conf.Secret
	opts     Options
	beta     string // opts.Beta joined for the anthropic-beta header
	client   *http.Client
	// now stamps responses (the Messages API sends no creation time) and
	// reads HTTP-date Retry-After values; a field so tests can fix it.
	now func() time.Time
}

// New builds a provider from cfg. It rejects unknown or invalid options and
// a base URL that is not an absolute http or https URL.
func New(cfg provider.Config) (provider.Provider, error) {
	var opts Options
	if err := conf.Decode(cfg.OptionsPath, cfg.Options, &opts); err != nil {
		return nil, err
	}
	if err := opts.validate(cfg.OptionsPath); err != nil {
		return nil, err
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, conf.Errorf(siblingPath(cfg.OptionsPath, "base_url"),
			"%q is not an absolute http or https URL", base)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &Provider{
		model:    cfg.Model,
		upstream: cfg.Upstream,
		endpoint: strings.TrimRight(base, "/") + "/v1/messages",
		key:      cfg.APIKey,
		opts:     opts,
		beta:     strings.Join(opts.Beta, ","),
		client:   client,
		now:      time.Now,
	}, nil
}

// siblingPath returns the config path of field next to the options block:
// siblingPath("models[2].options", "base_url") is "models[2].base_url".
func siblingPath(optionsPath, field string) string {
	if i := strings.LastIndexByte(optionsPath, '.'); i >= 0 {
		return optionsPath[:i+1] + field
	}
	return field
}

// Chat sends req as a non-streamed message.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, err := p.encodeRequest(req, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, p.transportError(ctx, err, CodeUpstreamUnreachable)
	}
	if len(data) > maxResponse {
		return nil, p.badResponse(fmt.Errorf("response body exceeds %d bytes", maxResponse))
	}
	var wr messageResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Type == "error" || (wr.Error != nil && wr.Type != "message") {
		// An error object sent with 2xx, as some proxies do.
		eb := errorBody{}
		if wr.Error != nil {
			eb = *wr.Error
		}
		return nil, p.inbandError(eb, resp.Header.Get("Request-Id"))
	}
	if wr.Type != "message" && wr.ID == "" && len(wr.Content) == 0 {
		return nil, p.badResponse(fmt.Errorf("response is not a message (type %q)", wr.Type))
	}
	return wr.llm(p.now().Unix()), nil
}

// ChatStream sends req as a streamed message and returns once the upstream
// has answered with 2xx headers. The stream holds a context derived from
// ctx; Close cancels it, which aborts the upstream request.
func (p *Provider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := p.encodeRequest(req, true)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	resp, err := p.post(sctx, body, "text/event-stream")
	if err != nil {
		cancel()
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		// Not a stream: an error object sent with 200, or a server that
		// ignored "stream": true.
		defer cancel()
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, p.transportError(sctx, err, CodeUpstreamUnreachable)
		}
		if eb, ok := parseErrorBody(data); ok {
			return nil, p.inbandError(eb, resp.Header.Get("Request-Id"))
		}
		return nil, p.badResponse(fmt.Errorf("expected an event stream, got %s", mt))
	}
	return newStream(p, sctx, cancel, resp.Body), nil
}

// post sends body and returns a 2xx response, or a classified error with
// the response closed.
func (p *Provider) post(ctx context.Context, body []byte, accept string) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, p.transportError(ctx, err, CodeUpstreamUnreachable)
	}
	h := hreq.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", accept)
	h.Set("User-Agent", "sextant")
	h.Set("Anthropic-Version", p.opts.Version)
	if p.beta != "" {
		h.Set("Anthropic-Beta", p.beta)
	}
	if k := p.key.Reveal(); k != "" {
		h.Set("X-Api-Key", k)
	}
	for name, v := range p.opts.Headers {
		h.Set(name, v.Reveal())
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		return nil, p.transportError(ctx, err, CodeUpstreamUnreachable)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil && ctx.Err() != nil {
		return nil, p.transportError(ctx, err, CodeUpstreamUnreachable)
	}
	// A body cut short by the network still classifies by its status.
	return nil, p.statusError(resp, data)
}

var _ provider.Provider = (*Provider)(nil)
