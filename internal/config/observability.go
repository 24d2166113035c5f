package config

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
)

// Admin guards the operator endpoints: the dashboard (/ui) and, with
// metrics.require_admin, GET /metrics.
type Admin struct {
	// KeyEnv names the environment variable holding the admin key, sent as
	// "Authorization: Bearer <key>" or entered on the dashboard's login
	// page. Without it the dashboard is open while no client keys are
	// configured (the whole gateway is open then) and refused otherwise.
	KeyEnv string `json:"key_env"`
}

// Metrics configures GET /metrics (Prometheus text format).
type Metrics struct {
	// Enabled serves /metrics; default true.
	Enabled *bool `json:"enabled"`
	// Baseline is the model savings are measured against: what each
	// answered request would have cost had Baseline answered it with the
	// same tokens. Default: the fleet's most expensive chat model (the
	// "all-premium" baseline).
	Baseline string `json:"baseline"`
	// RequireAdmin makes /metrics need the admin key. Default false: a
	// scraper reads it without credentials (it holds no prompts, users or
	// keys, only counts per configured route and model).
	RequireAdmin bool `json:"require_admin"`
}

// Telemetry configures OpenTelemetry tracing: one span tree per request,
// exported over OTLP/HTTP. Off unless otlp.endpoint is set.
type Telemetry struct {
	OTLP OTLP `json:"otlp"`
	// ServiceName is the service.name resource attribute; default
	// "sextant".
	ServiceName string `json:"service_name"`
	// SampleRatio is the share of requests traced, in [0,1]; default 1.
	// A request whose client sent a sampled traceparent is always traced.
	SampleRatio *float64 `json:"sample_ratio"`
}

// OTLP is where spans go.
type OTLP struct {
	// Endpoint is the collector's OTLP/HTTP traces URL
	// ("http://127.0.0.1:4318/v1/traces"); a URL without a path gets
	// /v1/traces, and a bare "host:port" is sent over HTTPS unless
	// Insecure is set.
	Endpoint string `json:"endpoint"`
	// Insecure sends to a bare host:port endpoint over plain HTTP.
	Insecure bool `json:"insecure"`
	// Headers are sent with every export (no secrets: use HeadersEnv).
	Headers map[string]string `json:"headers"`
	// HeadersEnv maps a header name to the environment variable holding
	// its value, for credentials.
	HeadersEnv map[string]string `json:"headers_env"`
	// Timeout bounds one export; default 10s.
	Timeout conf.Duration `json:"timeout"`
}

// UI configures the dashboard at /ui.
type UI struct {
	// Enabled serves the dashboard; default true (it still needs the
	// admin key, see Admin).
	Enabled *bool `json:"enabled"`
	// ReportsDir holds `sextant eval --out` reports (report.json files, in
	// any subdirectory); the dashboard plots a route's latest one.
	// Relative to the config file. Default none.
	ReportsDir string `json:"reports_dir"`
	// Recent is how many recent requests the dashboard keeps in memory
	// for its tables, percentiles and trace view; default 2000.
	Recent int `json:"recent"`
}

// On reports whether an optional switch is on, given its default.
func On(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Observability is the resolved operator config of a snapshot.
type Observability struct {
	// AdminKey is the admin key's value, "" when none is configured.
	AdminKey conf.Secret
	// Baseline is the catalog model savings are measured against, "" when
	// the fleet has no chat model with a price.
	Baseline string
	// ReportsDir is the eval reports directory, resolved; "" for none.
	ReportsDir string
	// OTLPEndpoint is the full traces URL, "" when tracing is off;
	// OTLPHeaders are the export headers with secrets read.
	OTLPEndpoint string
	OTLPHeaders  map[string]string
}

// buildObservability validates the admin, metrics, telemetry and ui blocks
// and resolves them against the built catalog.
func buildObservability(f *File, models map[string]*catalog.Model, order []string, baseDir string, getenv func(string) string) (Observability, []error) {
	var o Observability
	var errs []error
	if k := f.Admin.KeyEnv; k != "" {
		if v := getenv(k); v == "" {
			errs = append(errs, conf.Errorf("admin.key_env", "environment variable %s is not set", k))
		} else {
			o.AdminKey = conf.Secret(v)
		}
	}
	if b := f.Metrics.Baseline; b != "" {
		if _, ok := models[b]; !ok {
			errs = append(errs, conf.Errorf("metrics.baseline", "unknown model %q", b))
		}
		o.Baseline = b
	} else {
		o.Baseline = priciest(models, order)
	}
	if f.UI.Recent < 0 || f.UI.Recent > 1_000_000 {
		errs = append(errs, conf.Errorf("ui.recent", "must be in [0,1000000]"))
	}
	if f.UI.Recent == 0 {
		f.UI.Recent = 2000
	}
	if d := f.UI.ReportsDir; d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(baseDir, d)
		}
		o.ReportsDir = d
	}
	if r := f.Telemetry.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		errs = append(errs, conf.Errorf("telemetry.sample_ratio", "must be in [0,1]"))
	}
	if f.Telemetry.ServiceName == "" {
		f.Telemetry.ServiceName = "sextant"
	}
	otlp := &f.Telemetry.OTLP
	if otlp.Timeout < 0 {
		errs = append(errs, conf.Errorf("telemetry.otlp.timeout", "must not be negative"))
	}
	if otlp.Timeout == 0 {
		otlp.Timeout = conf.Duration(10e9)
	}
	if otlp.Endpoint != "" {
		u, err := otlpURL(otlp.Endpoint, otlp.Insecure)
		if err != nil {
			errs = append(errs, conf.Errorf("telemetry.otlp.endpoint", "%v", err))
		}
		o.OTLPEndpoint = u
		o.OTLPHeaders = map[string]string{}
		for _, name := range sortedKeys(otlp.Headers) {
			if err := checkHeaderName(name); err != nil {
				errs = append(errs, conf.Errorf(conf.Join("telemetry.otlp.headers", name), "%v", err))
			}
			o.OTLPHeaders[name] = otlp.Headers[name]
		}
		for _, name := range sortedKeys(otlp.HeadersEnv) {
			path := conf.Join("telemetry.otlp.headers_env", name)
			if err := checkHeaderName(name); err != nil {
				errs = append(errs, conf.Errorf(path, "%v", err))
			}
			v := getenv(otlp.HeadersEnv[name])
			if v == "" {
				errs = append(errs, conf.Errorf(path, "environment variable %s is not set", otlp.HeadersEnv[name]))
			}
			o.OTLPHeaders[name] = v
		}
	} else if len(otlp.Headers)+len(otlp.HeadersEnv) > 0 || otlp.Insecure {
		errs = append(errs, conf.Errorf("telemetry.otlp.endpoint", "is required when other otlp settings are given"))
	}
	return o, errs
}

// otlpURL turns the configured endpoint into the traces URL.
func otlpURL(endpoint string, insecure bool) (string, error) {
	if !strings.Contains(endpoint, "://") {
		scheme := "https"
		if insecure {
			scheme = "http"
		}
		endpoint = scheme + "://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid endpoint %q: want http(s)://host:port[/path] or host:port", endpoint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("unsupported scheme %q: OTLP/HTTP needs http or https", u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

func checkHeaderName(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") || http.CanonicalHeaderKey(name) == "" {
		return fmt.Errorf("invalid header name %q", name)
	}
	return nil
}

// priciest returns the chat model with the highest price (input plus
// output per 1M tokens), the first in config order on a tie; "" when no
// chat model has a price.
func priciest(models map[string]*catalog.Model, order []string) string {
	best, bestPrice := "", catalog.Rate(0)
	for _, name := range order {
		m := models[name]
		if m == nil || m.Has(catalog.CapEmbeddings) {
			continue
		}
		if p := m.Price.Input + m.Price.Output; p > bestPrice {
			best, bestPrice = name, p
		}
	}
	return best
}
