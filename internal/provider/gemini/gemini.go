package gemini

import (
	"cmp"
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

func init() { provider.Register("gemini", New) }

const (
	// DefaultHost is the Gemini API's host; the default base URL is
	// DefaultHost + "/" + the API version.
	DefaultHost = "https://generativelanguage.googleapis.com"
	// DefaultAPIVersion is the API version of the default base URL.
	DefaultAPIVersion = "v1beta"
	// DefaultBaseURL is used when a model's base_url is empty and no
	// api_version is set.
	DefaultBaseURL = DefaultHost + "/" + DefaultAPIVersion
)

// maxResponse bounds the body of a non-streamed response, in bytes.
const maxResponse = 32 << 20

// Options is the provider's "options" block. See the package doc.
type Options struct {
	// Headers are sent with every request. They are set after the adapter's
	// own headers, so they can replace any of them but Content-Type and
	// Content-Length. Values are secrets: they never appear in logs.
	Headers map[string]conf.Secret `json:"headers"`
	// SafetySettings are sent as the request's safetySettings, unchanged.
	SafetySettings []SafetySetting `json:"safety_settings"`
	// APIVersion picks the version path of the default base URL
	// ("v1beta" when empty). It cannot be combined with base_url, which
	// names its version itself.
	APIVersion string `json:"api_version"`
	// ThoughtSignatureFallback marks replayed function calls that carry no
	// thought signature with the validator-skipping placeholder, so that a
	// conversation begun on another model can continue on Gemini 3.
	// Default true.
	ThoughtSignatureFallback *bool `json:"thought_signature_fallback"`
}

// SafetySetting is one entry of safetySettings: a harm category and the
// threshold at which content of that category is blocked, both in the
// API's enum spelling (HARM_CATEGORY_HARASSMENT, BLOCK_ONLY_HIGH, ...).
type SafetySetting struct {
	Category  string `json:"category"`
	Threshold string `json:"threshold"`
}

func (o *Options) signatureFallback() bool {
	return o.ThoughtSignatureFallback == nil || *o.ThoughtSignatureFallback
}

func (o *Options) validate(path string, baseURLSet bool) error {
	if err := upstream.CheckHeaders(path, o.Headers, nil); err != nil {
		return err
	}
	for i, s := range o.SafetySettings {
		sp := conf.Index(conf.Join(path, "safety_settings"), i)
		if !enumName(s.Category) {
			return conf.Errorf(conf.Join(sp, "category"), "must be an enum name such as HARM_CATEGORY_HARASSMENT, not %q", s.Category)
		}
		if !enumName(s.Threshold) {
			return conf.Errorf(conf.Join(sp, "threshold"), "must be an enum name such as BLOCK_ONLY_HIGH, not %q", s.Threshold)
		}
	}
	if o.APIVersion != "" {
		vp := conf.Join(path, "api_version")
		if !validVersion(o.APIVersion) {
			return conf.Errorf(vp, "must be a version such as v1beta or v1, not %q", o.APIVersion)
		}
		if baseURLSet {
			return conf.Errorf(vp, "cannot be combined with base_url; put the version in base_url")
		}
	}
	return nil
}

// enumName reports whether s is spelled like a protobuf enum value name:
// upper-case letters, digits and underscores. Safety settings are passed
// through unchecked otherwise, so that new categories need no release, but
// a lower-case or misspelled-looking value is caught at load rather than
// failing every request.
func enumName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// validVersion accepts "v" followed by letters and digits: v1, v1beta,
// v1alpha.
func validVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] < '0' || s[1] > '9' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Provider calls one Gemini model through the Gemini API
// (generativelanguage). It is safe for concurrent use and immutable once
// built.
type Provider struct {
	model    string // catalog name, for errors
	upstream string
	base     string // base URL without a trailing slash
	key      conf.Secret
	opts     Options
	client   *http.Client
	now      func() time.Time // for created and HTTP-date Retry-After; a field so tests can fix it
}

// New builds a provider from cfg. It rejects unknown or invalid options and
// a base URL that is not an absolute http or https URL.
func New(cfg provider.Config) (provider.Provider, error) {
	var opts Options
	if err := conf.Decode(cfg.OptionsPath, cfg.Options, &opts); err != nil {
		return nil, err
	}
	if err := opts.validate(cfg.OptionsPath, cfg.BaseURL != ""); err != nil {
		return nil, err
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultHost + "/" + cmp.Or(opts.APIVersion, DefaultAPIVersion)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, conf.Errorf(upstream.SiblingPath(cfg.OptionsPath, "base_url"),
			"%q is not an absolute http or https URL without a query", base)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &Provider{
		model:    cfg.Model,
		upstream: cfg.Upstream,
		base:     strings.TrimRight(base, "/"),
		key:      cfg.APIKey,
		opts:     opts,
		client:   client,
		now:      time.Now,
	}, nil
}

// modelName returns the model resource name the request is for:
// "models/<name>" for a bare name, or the name as given when it already
// names a collection ("models/...", "tunedModels/...").
func (p *Provider) modelName(requested string) (string, *llm.Error) {
	name := cmp.Or(p.upstream, requested)
	if name == "" {
		return "", &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Code: "no_upstream_model",
			Message: "the deployment names no upstream model", Class: llm.ClassUnsupported, Model: p.model}
	}
	if !strings.Contains(name, "/") {
		name = "models/" + name
	}
	return name, nil
}

// endpoint returns the URL of method on model (a resource name from
// modelName). Each path segment is escaped, so a model name cannot add a
// query or a path of its own.
func (p *Provider) endpoint(model, method string) string {
	segs := strings.Split(model, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return p.base + "/" + strings.Join(segs, "/") + ":" + method
}

// Chat sends req to generateContent.
func (p *Provider) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	model, lerr := p.modelName(req.Model)
	if lerr != nil {
		return nil, lerr
	}
	body, err := p.encodeRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, p.endpoint(model, "generateContent"), body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := upstream.ReadBody(ctx, p.model, resp.Body, maxResponse)
	if err != nil {
		return nil, err
	}
	var wr generateResponse
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, p.badResponse(fmt.Errorf("decoding response: %w", err))
	}
	if wr.Error != nil {
		return nil, p.inbandError(*wr.Error)
	}
	if len(wr.Candidates) == 0 && !wr.blocked() {
		return nil, p.badResponse(fmt.Errorf("response has neither candidates nor a prompt block reason"))
	}
	return p.response(&wr), nil
}

// ChatStream sends req to streamGenerateContent?alt=sse and returns once the
// upstream has answered with 2xx headers. The stream holds a context
// derived from ctx; Close cancels it, which aborts the upstream request.
func (p *Provider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	model, lerr := p.modelName(req.Model)
	if lerr != nil {
		return nil, lerr
	}
	body, err := p.encodeRequest(req)
	if err != nil {
		return nil, err
	}
	// A JSON answer is an error sent with 200, or a server that ignored
	// alt=sse and sent a JSON array.
	b, err := upstream.PostStream(ctx, p.request(p.endpoint(model, "streamGenerateContent")+"?alt=sse", body, "text/event-stream"),
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

// post sends body to endpoint and returns a 2xx response, or a classified
// error with the response closed.
func (p *Provider) post(ctx context.Context, endpoint string, body []byte, accept string) (*http.Response, error) {
	return upstream.Post(ctx, p.request(endpoint, body, accept))
}

// request is a POST of body to endpoint with the adapter's headers.
func (p *Provider) request(endpoint string, body []byte, accept string) *upstream.Request {
	return &upstream.Request{Client: p.client, Model: p.model, URL: endpoint, Body: body, Accept: accept,
		Header: p.setHeaders, Extra: p.opts.Headers, StatusError: p.statusError}
}

// setHeaders sets the API key. It goes in the x-goog-api-key header, never
// in the URL, so that it cannot reach logs of URLs.
func (p *Provider) setHeaders(h http.Header) {
	if k := p.key.Reveal(); k != "" {
		h.Set("x-goog-api-key", k)
	}
}

var (
	_ provider.Provider = (*Provider)(nil)
	_ provider.Embedder = (*Provider)(nil)
)
