package anthropic

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
	if !upstream.ValidHeaderValue(o.Version) {
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
	return upstream.CheckHeaders(path, o.Headers, func(name string) string {
		switch {
		case strings.EqualFold(name, "anthropic-version"):
			return "use the version option"
		case strings.EqualFold(name, "anthropic-beta"):
			return "use the beta option"
		}
		return ""
	})
}

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
		endpoint: strings.TrimRight(base, "/") + "/v1/messages",
		key:      cfg.APIKey,
		opts:     opts,
		beta:     strings.Join(opts.Beta, ","),
		client:   client,
		now:      time.Now,
	}, nil
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
	data, err := upstream.ReadBody(ctx, p.model, resp.Body, maxResponse)
	if err != nil {
		return nil, err
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
	out := wr.llm(p.now().Unix())
	out.RateLimit = upstream.AnthropicRateLimit(resp.Header, p.now())
	return out, nil
}

// ChatStream sends req as a streamed message and returns once the upstream
// has answered with 2xx headers. The stream holds a context derived from
// ctx; Close cancels it, which aborts the upstream request.
func (p *Provider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := p.encodeRequest(req, true)
	if err != nil {
		return nil, err
	}
	b, err := upstream.PostStream(ctx, p.request(body, "text/event-stream"),
		func(resp *http.Response, data []byte) *llm.Error {
			if eb, ok := parseErrorBody(data); ok {
				return p.inbandError(eb, resp.Header.Get("Request-Id"))
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return newStream(p, b), nil
}

// post sends body and returns a 2xx response, or a classified error with
// the response closed.
func (p *Provider) post(ctx context.Context, body []byte, accept string) (*http.Response, error) {
	return upstream.Post(ctx, p.request(body, accept))
}

// request is a POST of body to the messages endpoint with the adapter's
// headers.
func (p *Provider) request(body []byte, accept string) *upstream.Request {
	return &upstream.Request{Client: p.client, Model: p.model, URL: p.endpoint, Body: body, Accept: accept,
		Header: p.setHeaders, Extra: p.opts.Headers, StatusError: p.statusError}
}

// setHeaders sets the API version, the beta features and the credentials.
func (p *Provider) setHeaders(h http.Header) {
	h.Set("Anthropic-Version", p.opts.Version)
	if p.beta != "" {
		h.Set("Anthropic-Beta", p.beta)
	}
	if k := p.key.Reveal(); k != "" {
		h.Set("X-Api-Key", k)
	}
}

var _ provider.Provider = (*Provider)(nil)
