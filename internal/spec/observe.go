package spec

import (
	"fmt"
	"net/url"
)

// Observe is a spec's observe block: which telemetry the run exports over
// OTLP/HTTP and where. A spec without one exports only what the standard
// OTEL_EXPORTER_OTLP_* variables of the host ask for (internal/telemetry).
type Observe struct {
	// Traces, Metrics and Logs select the signals; each is true unless the
	// block sets it to false (a block that names nothing exports all three).
	Traces, Metrics, Logs bool
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318); "" leaves
	// it to OTEL_EXPORTER_OTLP_ENDPOINT, then the OTLP default.
	Endpoint string
	// ServiceName is the resource's service.name; "" is "voidbox" (or
	// OTEL_SERVICE_NAME).
	ServiceName string
	Pos         Pos
}

// noBufferSize: the SDK's batch processors bound their own queues; a size
// that would be accepted and not used is refused instead.
const noBufferSize = "not supported: the OpenTelemetry SDK's batch processors bound their own queues (OTEL_BSP_MAX_QUEUE_SIZE)"

var observeObject = object{
	name:     "Observe",
	fields:   []string{"traces", "metrics", "logs", "otlp_endpoint", "service_name"},
	rejected: map[string]string{"telemetry_buffer_size": noBufferSize},
}

// observe decodes the observe block.
func (d *decoder) observe(n *yamlNode, path string) *Observe {
	f := d.mapping(n, path, &observeObject)
	if f == nil {
		return nil
	}
	o := &Observe{Traces: true, Metrics: true, Logs: true, Pos: d.pos(f.node)}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"traces", &o.Traces}, {"metrics", &o.Metrics}, {"logs", &o.Logs}} {
		if v, ok := f.boolean(b.key); ok {
			*b.dst = v
		}
	}
	if v, ok := f.str("otlp_endpoint"); ok {
		if err := checkOTLPURL(v); err != nil {
			d.at(f.m["otlp_endpoint"].val, join(path, "otlp_endpoint"), "%v", err)
		}
		o.Endpoint = v
	}
	if v, ok := f.str("service_name"); ok {
		if v == "" || len(v) > 255 {
			d.at(f.m["service_name"].val, join(path, "service_name"), "want 1 to 255 characters")
		}
		o.ServiceName = v
	}
	return o
}

// checkOTLPURL: an OTLP/HTTP base URL, to which the exporter adds
// /v1/traces, /v1/metrics and /v1/logs.
func checkOTLPURL(s string) error {
	if err := checkHTTPURL(s); err != nil {
		return err
	}
	if u, _ := url.Parse(s); u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("invalid URL %q: an OTLP endpoint takes no query or fragment", s)
	}
	return nil
}
