package openai

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

func init() { provider.Register("openai", New) }

// DefaultBaseURL is used when a model's base_url is empty.
const DefaultBaseURL = "https://api.openai.com/v1"

// TokenField names the wire field that carries the request's token limit.
type TokenField string

// The token limit fields; see the package doc for when to use which.
const (
	FieldMaxTokens           TokenField = "max_tokens"
	FieldMaxCompletionTokens TokenField = "max_completion_tokens"
)

// maxResponse bounds the body of a non-streamed response, in bytes.
const maxResponse = 32 << 20

// Options is the provider's "options" block. See the package doc.
type Options struct {
	// Headers are sent with every request. They are set after the adapter's
	// own headers, so they can replace any of them but Content-Type.
	// Values are secrets: they never appear in logs or dumps.
	Headers map[string]conf.Secret `json:"headers"`
	// Organization is sent as OpenAI-Organization.
	Organization string `json:"organization"`
	// Project is sent as OpenAI-Project.
	Project string `json:"project"`
	// MaxTokensField names the wire field the request's max_tokens is sent
	// in: "max_tokens" (default) or "max_completion_tokens".
	MaxTokensField TokenField `json:"max_tokens_field"`
	// SendMetadata forwards the request's metadata map. Default false.
	SendMetadata bool `json:"send_metadata"`
	// StreamUsage sends stream_options.include_usage on streams. Default
	// true.
	StreamUsage *bool `json:"stream_usage"`
}

func (o *Options) streamUsage() bool { return o.StreamUsage == nil || *o.StreamUsage }

func (o *Options) validate(path string) error {
	switch o.MaxTokensField {
	case "":
		o.MaxTokensField = FieldMaxTokens
	case FieldMaxTokens, FieldMaxCompletionTokens:
	default:
		return conf.Errorf(conf.Join(path, "max_tokens_field"), "must be %q or %q, not %q",
			FieldMaxTokens, FieldMaxCompletionTokens, o.MaxTokensField)
	}
	for _, name := range slices.Sorted(maps.Keys(o.Headers)) {
		v := o.Headers[name]
		hp := conf.Join(path, "headers."+name)
		switch {
		case !validHeaderName(name):
			return conf.Errorf(hp, "invalid header name")
		case strings.EqualFold(name, "Content-Type") || strings.EqualFold(name, "Content-Length"):
			return conf.Errorf(hp, "the adapter sets this header itself")
		case strings.ContainsAny(v.Reveal(), "\r\n\x00"):
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

// Provider calls one deployment behind an OpenAI-compatible
// /chat/completions endpoint. It is safe for concurrent use and immutable
// once built.
type Provider struct {
	model    string // catalog name, for errors
	upstream string
	endpoint string
	key      conf.Secret
	opts     Options
	client   *http.Client
	now      func() time.Time // for HTTP-date Retry-After; a field so tests can fix it
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
		endpoint: strings.TrimRight(base, "/") + "/chat/completions",
		key:      cfg.APIKey,
		opts:     opts,
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

// Chat sends req as a non-streamed completion.
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
	var wr chatResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Error != nil && len(wr.Choices) == 0 {
		// Some gateways (OpenRouter) answer 200 with an error body.
		return nil, p.inbandError(*wr.Error)
	}
	return wr.llm(), nil
}

// ChatStream sends req as a streamed completion and returns once the
// upstream has answered with 2xx headers. The stream holds a context
// derived from ctx; Close cancels it, which aborts the upstream request.
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
			return nil, p.inbandError(eb)
		}
		return nil, p.badResponse(fmt.Errorf("expected an event stream, got %s", mt))
	}
	return newStream(p, sctx, cancel, resp.Body), nil
}

// post sends body to the chat endpoint; see postTo.
func (p *Provider) post(ctx context.Context, body []byte, accept string) (*http.Response, error) {
	return p.postTo(ctx, p.endpoint, body, accept)
}

// postTo sends body to endpoint and returns a 2xx response, or a classified
// error with the response closed.
func (p *Provider) postTo(ctx context.Context, endpoint string, body []byte, accept string) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, p.transportError(ctx, err, CodeUpstreamUnreachable)
	}
	h := hreq.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", accept)
	h.Set("User-Agent", "sextant")
	if k := p.key.Reveal(); k != "" {
		h.Set("Authorization", "Bearer "+k)
	}
	if p.opts.Organization != "" {
		h.Set("OpenAI-Organization", p.opts.Organization)
	}
	if p.opts.Project != "" {
		h.Set("OpenAI-Project", p.opts.Project)
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
