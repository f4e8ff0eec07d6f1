// Package telemetry exports a run over OTLP/HTTP with the OpenTelemetry Go
// SDK: traces (run → stage → attempt → VM boot, exec or the agent, its
// model requests and tool calls, with the GenAI semantic conventions),
// metrics (stage duration, boot time, tokens, cost, VMs running) and logs
// (stage output lines). Everything is derived from the run's typed event
// stream: a Run is an event.Sink, so the engine knows nothing of it.
//
// Configuration is the spec's observe block and the standard
// OTEL_EXPORTER_OTLP_* variables; with neither, nothing is exported. An
// export failure is logged, never returned to the run.
package telemetry

import (
	"fmt"
	"strings"

	"github.com/voidbox/voidbox/internal/spec"
)

// Config says what to export where. The zero value exports nothing.
type Config struct {
	Traces, Metrics, Logs bool
	// Endpoint is the OTLP/HTTP base URL (the exporters add /v1/traces,
	// ...); "" lets them read OTEL_EXPORTER_OTLP_[SIGNAL_]ENDPOINT.
	Endpoint    string
	ServiceName string
}

// On reports whether any signal is exported.
func (c Config) On() bool { return c.Traces || c.Metrics || c.Logs }

// DefaultServiceName is service.name without observe.service_name or
// OTEL_SERVICE_NAME.
const DefaultServiceName = "voidbox"

// signals are the OTLP signals with their environment names.
var signals = []struct{ name, env string }{{"traces", "TRACES"}, {"metrics", "METRICS"}, {"logs", "LOGS"}}

// Resolve combines a spec's observe block (nil: none) with the environment:
//
//   - OTEL_SDK_DISABLED=true turns everything off;
//   - with an observe block, its traces/metrics/logs choose the signals;
//     without one, a signal is on when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT is set;
//   - OTEL_<SIGNAL>_EXPORTER=none turns a signal off; otlp (or unset) is
//     the only exporter;
//   - OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL must be http/protobuf (or
//     unset): gRPC and JSON are refused rather than ignored.
func Resolve(o *spec.Observe, getenv func(string) string) (Config, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return Config{}, nil
	}
	var cfg Config
	on := map[string]*bool{"traces": &cfg.Traces, "metrics": &cfg.Metrics, "logs": &cfg.Logs}
	for _, s := range signals {
		for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_" + s.env + "_PROTOCOL"} {
			if v := getenv(k); v != "" && v != "http/protobuf" {
				return Config{}, fmt.Errorf("%s=%s: voidbox exports OTLP over HTTP with protobuf only (http/protobuf)", k, v)
			}
		}
		exp := getenv("OTEL_" + s.env + "_EXPORTER")
		switch exp {
		case "", "otlp", "none":
		default:
			return Config{}, fmt.Errorf("OTEL_%s_EXPORTER=%s: voidbox exports %s with otlp only (or none)", s.env, exp, s.name)
		}
		if exp == "none" {
			continue
		}
		if o != nil {
			*on[s.name] = map[string]bool{"traces": o.Traces, "metrics": o.Metrics, "logs": o.Logs}[s.name]
		} else {
			*on[s.name] = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+s.env+"_ENDPOINT") != ""
		}
	}
	cfg.ServiceName = getenv("OTEL_SERVICE_NAME")
	if o != nil {
		cfg.Endpoint = strings.TrimRight(o.Endpoint, "/")
		if o.ServiceName != "" {
			cfg.ServiceName = o.ServiceName
		}
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if !cfg.On() {
		return Config{}, nil
	}
	return cfg, nil
}
