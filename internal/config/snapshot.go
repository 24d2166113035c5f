package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/state"
)

// Snapshot is one immutable, validated configuration ready to serve.
// Nothing in it changes after Build; a reload builds a new one.
type Snapshot struct {
	File     *File
	Models   map[string]*catalog.Model
	Order    []string // model names in config order
	Targets  map[string]executor.Target
	Executor *executor.Executor
	// Routes are the named policy trees; Direct holds a "model" node per
	// model so that clients can name a model directly.
	Routes     map[string]policy.Node
	RouteOrder []string
	Direct     map[string]policy.Node
	// Keys maps a bearer token to the key it belongs to.
	Keys map[string]Key
	// KeyHashes maps the hex SHA-256 of a bearer token to the key, for
	// keys configured with key_sha256.
	KeyHashes map[string]Key
	// Observability is the resolved admin, metrics, telemetry and ui
	// config.
	Observability Observability
}

// UpstreamTransport is the HTTP transport for upstream calls: the default
// transport with a pool large enough that a busy gateway reuses its
// connections instead of dialing one per request (the default keeps only
// two idle connections per host, which under load made most requests dial
// anew and spent a fifth of the CPU in dialing).
func UpstreamTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 256
	return tr
}

// BuildOptions carry what Build needs from the outside world.
type BuildOptions struct {
	// BaseDir resolves relative paths in provider options; default ".".
	BaseDir string
	// Getenv reads secrets; default os.Getenv.
	Getenv func(string) string
	// HTTPClient is shared by the adapters; default a client with no
	// overall timeout (deadlines come from contexts).
	HTTPClient *http.Client
}

// Build validates f and assembles a Snapshot. It reports every error it
// finds, each naming its path, joined with errors.Join.
func Build(f *File, o BuildOptions) (*Snapshot, error) {
	if o.BaseDir == "" {
		o.BaseDir = "."
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: UpstreamTransport()}
	}
	s := &Snapshot{File: f, Models: map[string]*catalog.Model{}, Targets: map[string]executor.Target{},
		Routes: map[string]policy.Node{}, Direct: map[string]policy.Node{}, Keys: map[string]Key{}}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(validateServer(&f.Server))
	add(f.Store.Validate("store"))
	add(validateExecutor(&f.Executor))
	add(f.Health.Validate("health"))
	add(f.State.Validate("state"))
	add(f.Cache.Validate("cache"))

	for i, mc := range f.Models {
		path := conf.Index("models", i)
		m, err := buildModel(path, mc, o.Getenv)
		if err != nil {
			add(err)
			continue
		}
		if _, dup := s.Models[m.Name]; dup {
			add(conf.Errorf(conf.Join(path, "name"), "duplicate model name %q", m.Name))
			continue
		}
		factory, ok := provider.Lookup(m.Provider)
		if !ok {
			add(conf.Errorf(conf.Join(path, "provider"), "unknown provider %q (known: %s)", m.Provider, strings.Join(provider.Kinds(), ", ")))
			continue
		}
		p, err := factory(provider.Config{Model: m.Name, Upstream: m.Upstream, BaseURL: m.BaseURL, APIKey: m.APIKey,
			Options: m.Options, OptionsPath: conf.Join(path, "options"), HTTPClient: o.HTTPClient, BaseDir: o.BaseDir})
		if err != nil {
			add(asPathError(conf.Join(path, "options"), err))
			continue
		}
		s.Models[m.Name] = m
		s.Order = append(s.Order, m.Name)
		s.Targets[m.Name] = executor.Target{Model: m, Provider: p}
	}
	if len(f.Models) == 0 {
		add(conf.Errorf("models", "at least one model is required"))
	}

	b := &builder{models: s.Models, baseDir: o.BaseDir}
	for _, name := range s.Order {
		node, err := b.Build(conf.Join("models", name), mustJSON(name))
		if err != nil {
			add(err)
			continue
		}
		s.Direct[name] = node
	}
	for _, name := range sortedKeys(f.Routes) {
		path := conf.Join("routes", name)
		if name == "" || strings.ContainsAny(name, " \t\n") {
			add(conf.Errorf(path, "route names must be non-empty and contain no spaces"))
			continue
		}
		if _, clash := s.Models[name]; clash {
			add(conf.Errorf(path, "route %q has the same name as a model", name))
			continue
		}
		node, err := b.Build(path, f.Routes[name])
		if err != nil {
			add(err)
			continue
		}
		s.Routes[name] = node
		s.RouteOrder = append(s.RouteOrder, name)
	}
	s.KeyHashes = map[string]Key{}
	for i, k := range f.Keys {
		path := conf.Index("keys", i)
		if k.KeySHA256 != "" {
			add(buildHashedKey(path, k, s.KeyHashes))
		} else {
			add(buildKey(path, k, o.Getenv, s.Keys))
		}
		add(validateKeyLimits(path, k, s))
	}
	for i, name := range f.Cache.Routes {
		_, isRoute := f.Routes[name]
		if _, isModel := s.Models[name]; name != "" && !isRoute && !isModel {
			add(conf.Errorf(conf.Index("cache.routes", i), "no route or model is named %q", name))
		}
	}
	if sc := f.Cache.Semantic; sc != nil && sc.EmbedModel != "" {
		if m, ok := s.Models[sc.EmbedModel]; !ok {
			add(conf.Errorf("cache.semantic.embed_model", "no model is named %q", sc.EmbedModel))
		} else if !m.Has(catalog.CapEmbeddings) {
			add(conf.Errorf("cache.semantic.embed_model", "model %q does not have the embeddings capability", sc.EmbedModel))
		}
	}
	obs, obsErrs := buildObservability(f, s.Models, s.Order, o.BaseDir, o.Getenv)
	errs = append(errs, obsErrs...)
	s.Observability = obs
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Shared state is process-wide and outlives reloads; a reload that
	// changes it reconnects.
	state.Apply(f.State, o.Getenv)
	var breakers *health.Breakers
	if f.Health.Enabled {
		// Circuits are process-wide and outlive reloads; a reload only
		// changes their thresholds.
		breakers = health.Default
		breakers.Configure(f.Health)
	}
	s.Executor = executor.New(s.Targets, executor.Options{
		Health:         breakers,
		AttemptTimeout: f.Executor.AttemptTimeout.D(),
		TTFTTimeout:    f.Executor.TTFTTimeout.D(),
		MaxRetries:     retriesOption(f.Executor.MaxRetries),
		BackoffInitial: f.Executor.BackoffInitial.D(),
		BackoffMax:     f.Executor.BackoffMax.D(),
		MaxRetryAfter:  f.Executor.MaxRetryAfter.D(),
	})
	return s, nil
}

func retriesOption(p *int) int {
	switch {
	case p == nil:
		return 0 // executor default
	case *p == 0:
		return -1 // explicitly none
	}
	return *p
}

func asPathError(path string, err error) error {
	var ce *conf.Error
	if errors.As(err, &ce) {
		return err
	}
	return conf.Errorf(path, "%v", err)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func buildModel(path string, mc Model, getenv func(string) string) (*catalog.Model, error) {
	if mc.Name == "" {
		return nil, conf.Errorf(conf.Join(path, "name"), "a name is required")
	}
	if strings.ContainsAny(mc.Name, " \t\n") {
		return nil, conf.Errorf(conf.Join(path, "name"), "model names contain no spaces")
	}
	if mc.Provider == "" {
		return nil, conf.Errorf(conf.Join(path, "provider"), "a provider is required")
	}
	m := &catalog.Model{
		Name: mc.Name, Provider: mc.Provider, Upstream: mc.Upstream, BaseURL: mc.BaseURL, APIKeyEnv: mc.APIKeyEnv,
		ContextWindow: mc.ContextWindow, Labels: mc.Labels, Options: mc.Options, Timeout: mc.Timeout,
		Capabilities: map[catalog.Capability]bool{}, MaxRetries: -1,
	}
	if m.Upstream == "" {
		m.Upstream = m.Name
	}
	if mc.MaxRetries != nil {
		if *mc.MaxRetries < 0 || *mc.MaxRetries > 10 {
			return nil, conf.Errorf(conf.Join(path, "max_retries"), "must be in [0,10]")
		}
		m.MaxRetries = *mc.MaxRetries
	}
	if mc.ContextWindow < 0 {
		return nil, conf.Errorf(conf.Join(path, "context_window"), "must not be negative")
	}
	for field, v := range map[string]float64{"input": mc.Price.Input, "output": mc.Price.Output} {
		if v < 0 || v > 1e6 {
			return nil, conf.Errorf(conf.Join(path, "price."+field), "must be in [0,1000000] dollars per 1M tokens")
		}
	}
	m.Price = catalog.Price{Input: catalog.RateFromUSD(mc.Price.Input), Output: catalog.RateFromUSD(mc.Price.Output)}
	m.Price.Cached, m.Price.CacheWrite = m.Price.Input, m.Price.Input
	for field, v := range map[string]struct {
		set *float64
		to  *catalog.Rate
	}{"cached": {mc.Price.Cached, &m.Price.Cached}, "cache_write": {mc.Price.CacheWrite, &m.Price.CacheWrite}} {
		if v.set == nil {
			continue
		}
		if *v.set < 0 || *v.set > 1e6 {
			return nil, conf.Errorf(conf.Join(path, "price."+field), "must be in [0,1000000] dollars per 1M tokens")
		}
		*v.to = catalog.RateFromUSD(*v.set)
	}
	for i, c := range mc.Capabilities {
		if !slices.Contains(catalog.KnownCapabilities, catalog.Capability(c)) {
			return nil, conf.Errorf(conf.Index(conf.Join(path, "capabilities"), i), "unknown capability %q (known: %v)", c, catalog.KnownCapabilities)
		}
		m.Capabilities[catalog.Capability(c)] = true
	}
	if mc.APIKeyEnv != "" {
		v := getenv(mc.APIKeyEnv)
		if v == "" {
			return nil, conf.Errorf(conf.Join(path, "api_key_env"), "environment variable %s is not set", mc.APIKeyEnv)
		}
		m.APIKey = conf.Secret(v)
	}
	return m, nil
}

func buildHashedKey(path string, k Key, into map[string]Key) error {
	if k.Name == "" {
		return conf.Errorf(conf.Join(path, "name"), "a name is required")
	}
	if k.KeyEnv != "" {
		return conf.Errorf(path, "set key_env or key_sha256, not both")
	}
	h := strings.ToLower(k.KeySHA256)
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return conf.Errorf(conf.Join(path, "key_sha256"), "must be 64 hex digits (the SHA-256 of the key)")
	}
	if _, dup := into[h]; dup {
		return conf.Errorf(conf.Join(path, "key_sha256"), "two keys have the same hash")
	}
	into[h] = k
	return nil
}

func validateKeyLimits(path string, k Key, s *Snapshot) error {
	l, p := k.Limits, conf.Join(path, "limits")
	switch {
	case l.RequestsPerMinute < 0:
		return conf.Errorf(conf.Join(p, "requests_per_minute"), "must not be negative")
	case l.TokensPerMinute < 0:
		return conf.Errorf(conf.Join(p, "tokens_per_minute"), "must not be negative")
	case !(l.DailyUSD >= 0):
		return conf.Errorf(conf.Join(p, "daily_usd"), "must not be negative")
	case !(l.MonthlyUSD >= 0):
		return conf.Errorf(conf.Join(p, "monthly_usd"), "must not be negative")
	case !(l.DowngradeAt >= 0 && l.DowngradeAt <= 1):
		return conf.Errorf(conf.Join(p, "downgrade_at"), "must be in [0,1], got %v", l.DowngradeAt)
	}
	known := func(name string) bool {
		_, r := s.Routes[name]
		_, m := s.Models[name]
		return r || m
	}
	if l.Downgrade != "" && !known(l.Downgrade) {
		return conf.Errorf(conf.Join(p, "downgrade"), "unknown route or model %q", l.Downgrade)
	}
	for i, r := range k.Routes {
		if !known(r) {
			return conf.Errorf(conf.Index(conf.Join(path, "routes"), i), "unknown route or model %q", r)
		}
	}
	return nil
}

func buildKey(path string, k Key, getenv func(string) string, into map[string]Key) error {
	if k.Name == "" {
		return conf.Errorf(conf.Join(path, "name"), "a name is required")
	}
	if k.KeyEnv == "" {
		return conf.Errorf(conf.Join(path, "key_env"), "the environment variable holding the key is required")
	}
	v := getenv(k.KeyEnv)
	if v == "" {
		return conf.Errorf(conf.Join(path, "key_env"), "environment variable %s is not set", k.KeyEnv)
	}
	if _, dup := into[v]; dup {
		return conf.Errorf(conf.Join(path, "key_env"), "two keys have the same value")
	}
	into[v] = k
	return nil
}

func validateServer(s *Server) error {
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 8 << 20
	}
	if s.MaxBodyBytes < 1024 {
		return conf.Errorf("server.max_body_bytes", "must be at least 1024")
	}
	if s.ShutdownGrace == 0 {
		s.ShutdownGrace = conf.Duration(30e9)
	}
	return nil
}

func validateExecutor(e *Executor) error {
	if e.MaxRetries != nil && (*e.MaxRetries < 0 || *e.MaxRetries > 10) {
		return conf.Errorf("executor.max_retries", "must be in [0,10]")
	}
	if e.TotalTimeout == 0 {
		e.TotalTimeout = conf.Duration(300e9)
	}
	return nil
}

// builder implements policy.Builder over a catalog.
type builder struct {
	models  map[string]*catalog.Model
	baseDir string
}

func (b *builder) HasModel(name string) bool { _, ok := b.models[name]; return ok }

func (b *builder) Model(name string) (*catalog.Model, bool) { m, ok := b.models[name]; return m, ok }

// Path resolves p against the config file's directory; absolute paths and
// "builtin:" names are returned as they are.
func (b *builder) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "builtin:") {
		return p
	}
	return filepath.Join(b.baseDir, p)
}

// Build builds a subtree: a JSON string names a model, an object has one key
// naming a registered kind.
func (b *builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return model.New(b, path, raw)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, conf.Errorf(path, "expected a model name or a mapping with one policy kind")
	}
	if len(m) != 1 {
		keys := sortedKeys(m)
		return nil, conf.Errorf(path, "expected exactly one policy kind, got %d (%s); known kinds: %s", len(m), strings.Join(keys, ", "), strings.Join(policy.Kinds(), ", "))
	}
	for kind, block := range m {
		f, ok := policy.Lookup(kind)
		if !ok {
			return nil, conf.Errorf(conf.Join(path, kind), "unknown policy kind %q (known: %s)", kind, strings.Join(policy.Kinds(), ", "))
		}
		return f(b, conf.Join(path, kind), block)
	}
	panic("unreachable")
}

// Load reads, parses and builds the config at path.
func Load(path string, o BuildOptions) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if o.BaseDir == "" {
		o.BaseDir = filepath.Dir(path)
	}
	return Build(f, o)
}
