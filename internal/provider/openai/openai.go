package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/upstream"
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
	return upstream.CheckHeaders(path, o.Headers, nil)
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
		return nil, conf.Errorf(upstream.SiblingPath(cfg.OptionsPath, "base_url"),
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
	data, err := upstream.ReadBody(ctx, p.model, resp.Body, maxResponse)
	if err != nil {
		return nil, err
	}
	var wr chatResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Error != nil && len(wr.Choices) == 0 {
		// Some gateways (OpenRouter) answer 200 with an error body.
		return nil, p.inbandError(*wr.Error)
	}
	out := wr.llm()
	out.RateLimit = upstream.OpenAIRateLimit(resp.Header)
	return out, nil
}

// ChatStream sends req as a streamed completion and returns once the
// upstream has answered with 2xx headers. The stream holds a context
// derived from ctx; Close cancels it, which aborts the upstream request.
func (p *Provider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := p.encodeRequest(req, true)
	if err != nil {
		return nil, err
	}
	b, err := upstream.PostStream(ctx, p.request(p.endpoint, body, "text/event-stream"),
		func(_ *http.Response, data []byte) *llm.Error {
			if eb, ok := parseErrorBody(data); ok {
				return p.inbandError(eb)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return newStream(p, b), nil
}

// post sends body to the chat endpoint; see postTo.
func (p *Provider) post(ctx context.Context, body []byte, accept string) (*http.Response, error) {
	return p.postTo(ctx, p.endpoint, body, accept)
}

// postTo sends body to endpoint and returns a 2xx response, or a classified
// error with the response closed.
func (p *Provider) postTo(ctx context.Context, endpoint string, body []byte, accept string) (*http.Response, error) {
	return upstream.Post(ctx, p.request(endpoint, body, accept))
}

// request is a POST of body to endpoint with the adapter's headers.
func (p *Provider) request(endpoint string, body []byte, accept string) *upstream.Request {
	return &upstream.Request{Client: p.client, Model: p.model, URL: endpoint, Body: body, Accept: accept,
		Header: p.setHeaders, Extra: p.opts.Headers, StatusError: p.statusError}
}

// setHeaders sets the credentials and the organization and project.
func (p *Provider) setHeaders(h http.Header) {
	if k := p.key.Reveal(); k != "" {
		h.Set("Authorization", "Bearer "+k)
	}
	if p.opts.Organization != "" {
		h.Set("OpenAI-Organization", p.opts.Organization)
	}
	if p.opts.Project != "" {
		h.Set("OpenAI-Project", p.opts.Project)
	}
}

var _ provider.Provider = (*Provider)(nil)
