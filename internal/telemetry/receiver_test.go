package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP (protobuf) collector for tests: it decodes
// what the exporters send with the OTLP protobuf definitions.
type receiver struct {
	*httptest.Server
	t       testing.TB
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics map[string]bool
	logs    []*logspb.LogRecord
	service string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, metrics: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var m coltrace.ExportTraceServiceRequest
		if !r.decode(w, req, &m) {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rs := range m.ResourceSpans {
			r.service = attrs(rs.Resource.Attributes)["service.name"]
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.reply(w, &coltrace.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var m colmetrics.ExportMetricsServiceRequest
		if !r.decode(w, req, &m) {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rm := range m.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, x := range sm.Metrics {
					r.metrics[x.Name] = true
				}
			}
		}
		r.reply(w, &colmetrics.ExportMetricsServiceResponse{})
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, req *http.Request) {
		var m collogs.ExportLogsServiceRequest
		if !r.decode(w, req, &m) {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rl := range m.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				r.logs = append(r.logs, sl.LogRecords...)
			}
		}
		r.reply(w, &collogs.ExportLogsServiceResponse{})
	})
	r.Server = httptest.NewServer(mux)
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) decode(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.t.Errorf("OTLP request with Content-Type %q", ct)
	}
	b, err := io.ReadAll(req.Body)
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		r.t.Errorf("decoding OTLP %s: %v", req.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (r *receiver) reply(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// attrs flattens OTLP attributes to strings (ints as decimal).
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			out[kv.Key] = map[bool]string{true: "true", false: "false"}[v.BoolValue]
		default:
			out[kv.Key] = kv.Value.String()
		}
	}
	return out
}
