package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// scope is the instrumentation scope of everything voidbox exports.
const scope = "github.com/voidbox/voidbox"

// closeTimeout bounds the final flush: an unreachable collector delays the
// end of a run by at most this much.
const closeTimeout = 5 * time.Second

// Options of Start.
type Options struct {
	// RunID is the daemon's id of the run (voidbox.run.id); "" for a local
	// run.
	RunID string
	// Logger receives export failures (they never fail the run); nil
	// discards them.
	Logger *slog.Logger
}

// errorLog routes the SDK's error handler (process-wide in OpenTelemetry's
// design, hence set once) to the first logger Start was given.
var errorLog sync.Once

// Start begins exporting one run as cfg says. It returns nil (and no
// error) when cfg exports nothing. Close the Run when the run has ended.
func Start(ctx context.Context, cfg Config, o Options) (*Run, error) {
	if !cfg.On() {
		return nil, nil
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	errorLog.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry export failed", "err", err) }))
	})
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName)}
	if o.RunID != "" {
		attrs = append(attrs, attribute.String("voidbox.run.id", o.RunID))
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, err
	}
	r := &Run{log: log, stages: map[string]*stageSpans{}, runID: o.RunID}
	var errs []error
	if cfg.Traces {
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		errs = append(errs, err)
		if err == nil {
			r.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		}
	}
	if cfg.Metrics {
		var opts []otlpmetrichttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlpmetrichttp.WithEndpointURL(cfg.Endpoint+"/v1/metrics"))
		}
		exp, err := otlpmetrichttp.New(ctx, opts...)
		errs = append(errs, err)
		if err == nil {
			r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)), sdkmetric.WithResource(res))
		}
	}
	if cfg.Logs {
		var opts []otlploghttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlploghttp.WithEndpointURL(cfg.Endpoint+"/v1/logs"))
		}
		exp, err := otlploghttp.New(ctx, opts...)
		errs = append(errs, err)
		if err == nil {
			r.lp = sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)), sdklog.WithResource(res))
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.shutdown()
		return nil, err
	}
	r.tracer = noop.NewTracerProvider().Tracer(scope)
	if r.tp != nil {
		r.tracer = r.tp.Tracer(scope)
	}
	if r.mp != nil {
		if err := r.inst.init(r.mp.Meter(scope)); err != nil {
			r.shutdown()
			return nil, err
		}
	}
	if r.lp != nil {
		r.logger = r.lp.Logger(scope)
	}
	return r, nil
}

// Run exports one run; it is the run's event.Sink. Safe for concurrent use.
type Run struct {
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	lp     *sdklog.LoggerProvider
	tracer trace.Tracer
	logger otellog.Logger // nil without logs
	inst   instruments    // zero without metrics
	log    *slog.Logger
	runID  string

	mu      sync.Mutex
	root    trace.Span      // guarded by mu
	rootCtx context.Context // guarded by mu
	stages  map[string]*stageSpans
	closed  bool // guarded by mu
	// finished: run.finished was seen; later events are dropped. Guarded by mu.
	finished bool
}

// Close ends what is still open and flushes every signal (bounded by
// closeTimeout). Idempotent.
func (r *Run) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	now := time.Now()
	for name, s := range r.stages {
		r.endStage(s, name, now, "run ended", false)
	}
	if r.root != nil && !r.finished {
		r.root.End(trace.WithTimestamp(now))
	}
	r.mu.Unlock()
	r.shutdown()
}

func (r *Run) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	if r.tp != nil {
		errs = append(errs, r.tp.Shutdown(ctx))
	}
	if r.mp != nil {
		errs = append(errs, r.mp.Shutdown(ctx))
	}
	if r.lp != nil {
		errs = append(errs, r.lp.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Warn("telemetry: flushing at the end of the run", "err", err)
	}
}

// instruments are the run's metrics.
type instruments struct {
	on            bool
	stageDuration metric.Float64Histogram
	bootDuration  metric.Float64Histogram
	tokens        metric.Int64Histogram
	opDuration    metric.Float64Histogram
	cost          metric.Float64Counter
	vms           metric.Int64UpDownCounter
	runs          metric.Int64Counter
}

func (in *instruments) init(m metric.Meter) error {
	var errs [7]error
	in.stageDuration, errs[0] = m.Float64Histogram("voidbox.stage.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a stage's first attempt to its end, retries included"))
	in.bootDuration, errs[1] = m.Float64Histogram("voidbox.vm.boot.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from QEMU's start to the guest init's answer"))
	in.tokens, errs[2] = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens per model request, as the host gateway counted them"))
	in.opDuration, errs[3] = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of a model request through the host gateway"))
	in.cost, errs[4] = m.Float64Counter("voidbox.llm.cost", metric.WithUnit("USD"),
		metric.WithDescription("Model spend by the gateway's price table"))
	in.vms, errs[5] = m.Int64UpDownCounter("voidbox.vms.running", metric.WithUnit("{vm}"),
		metric.WithDescription("VMs of the run that are up"))
	in.runs, errs[6] = m.Int64Counter("voidbox.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Runs ended, by status"))
	in.on = true
	return errors.Join(errs[:]...)
}
