package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sextant-router/sextant/internal/engine"
)

// Options configure a Tracer.
type Options struct {
	// Endpoint is the OTLP/HTTP traces URL; Headers go with every export;
	// Timeout bounds one export (default 10s).
	Endpoint string
	Headers  map[string]string
	Timeout  time.Duration
	// Exporter replaces the OTLP exporter (tests use an in-memory one).
	Exporter sdktrace.SpanExporter
	// ServiceName is the service.name resource attribute (default
	// "sextant"); ServiceVersion, if set, service.version.
	ServiceName    string
	ServiceVersion string
	// Queue bounds the finished requests waiting to become spans (default
	// 4096); more are dropped and counted.
	Queue int
	// Logger reports drops and export failures; default slog.Default().
	Logger *slog.Logger
}

// Tracer turns finished requests into OpenTelemetry spans. It implements
// engine.Observer: Observe only queues the request, and one goroutine
// builds its span tree (from the trace's recorded timestamps) and hands it
// to a batching exporter, so tracing adds no latency to requests.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	queue    chan *engine.Finished
	done     chan struct{}
	logger   *slog.Logger

	mu      sync.RWMutex // guards closed against Observe racing Shutdown
	closed  bool
	dropped atomic.Uint64
	spans   atomic.Uint64
	pending atomic.Int64 // queued or being built
}

// New starts a Tracer. Call Shutdown to flush and stop it.
func New(o Options) (*Tracer, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ServiceName == "" {
		o.ServiceName = "sextant"
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	exp := o.Exporter
	if exp == nil {
		if o.Endpoint == "" {
			return nil, errors.New("telemetry: no OTLP endpoint")
		}
		var err error
		exp, err = otlptracehttp.New(context.Background(),
			otlptracehttp.WithEndpointURL(o.Endpoint),
			otlptracehttp.WithHeaders(o.Headers),
			otlptracehttp.WithTimeout(o.Timeout),
			// The batch processor retries nothing; a down collector costs
			// one bounded attempt per batch, not a growing backlog.
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
	}
	attrs := []attributeKV{semconv.ServiceName(o.ServiceName)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.ServiceVersion))
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}),
		// Sampling was decided when the request arrived (Sampler): a
		// request that reaches the tracer is traced.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		// The request span holds one event per decision; bound them.
		sdktrace.WithSpanLimits(sdktrace.SpanLimits{AttributeCountLimit: 64, EventCountLimit: 128,
			LinkCountLimit: 8, AttributePerEventCountLimit: 16, AttributePerLinkCountLimit: 16, AttributeValueLengthLimit: 4096}),
	)
	t := &Tracer{provider: tp, tracer: tp.Tracer("github.com/sextant-router/sextant"),
		queue: make(chan *engine.Finished, o.Queue), done: make(chan struct{}), logger: o.Logger}
	go t.run()
	return t, nil
}

// Observe implements engine.Observer: it queues f for export when f has a
// trace id, and drops it (counted) when the queue is full.
func (t *Tracer) Observe(f *engine.Finished) {
	if f.Decision == nil || f.Decision.TraceID == "" {
		return
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return
	}
	t.pending.Add(1)
	select {
	case t.queue <- f:
	default:
		t.pending.Add(-1)
		if t.dropped.Add(1)%1000 == 1 {
			t.logger.Warn("telemetry: span queue full; dropping traces", "dropped", t.dropped.Load())
		}
	}
}

func (t *Tracer) run() {
	defer close(t.done)
	for f := range t.queue {
		t.spans.Add(uint64(export(t.tracer, f)))
		t.pending.Add(-1)
	}
}

// Dropped returns how many finished requests were not traced because the
// queue was full.
func (t *Tracer) Dropped() uint64 { return t.dropped.Load() }

// Spans returns how many spans were built.
func (t *Tracer) Spans() uint64 { return t.spans.Load() }

// Flush waits until every queued request became spans and the exporter
// sent them, or ctx ends.
func (t *Tracer) Flush(ctx context.Context) error {
	for t.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return t.provider.ForceFlush(ctx)
}

// Shutdown stops accepting requests, builds the spans of those queued,
// exports everything and stops the exporter, within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.queue)
	}
	t.mu.Unlock()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return t.provider.Shutdown(ctx)
}

var _ engine.Observer = (*Tracer)(nil)
