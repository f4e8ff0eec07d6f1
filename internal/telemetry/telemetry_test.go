package telemetry

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/spec"
)

func TestResolve(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	obs := &spec.Observe{Traces: true, Metrics: false, Logs: true, Endpoint: "http://c:4318/", ServiceName: "s"}
	for _, tc := range []struct {
		name string
		o    *spec.Observe
		env  func(string) string
		want Config
		err  string
	}{
		{"neither", nil, env(), Config{}, ""},
		{"env endpoint", nil, env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318"),
			Config{Traces: true, Metrics: true, Logs: true, ServiceName: "voidbox"}, ""},
		{"env traces only", nil, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://x:4318/v1/traces", "OTEL_SERVICE_NAME", "n"),
			Config{Traces: true, ServiceName: "n"}, ""},
		{"block", obs, env(), Config{Traces: true, Logs: true, Endpoint: "http://c:4318", ServiceName: "s"}, ""},
		{"block, logs off by env", obs, env("OTEL_LOGS_EXPORTER", "none"), Config{Traces: true, Endpoint: "http://c:4318", ServiceName: "s"}, ""},
		{"disabled", obs, env("OTEL_SDK_DISABLED", "true"), Config{}, ""},
		{"grpc", obs, env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), Config{}, "protobuf only (http/protobuf)"},
		{"zipkin", nil, env("OTEL_TRACES_EXPORTER", "zipkin"), Config{}, "otlp only"},
	} {
		got, err := Resolve(tc.o, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

// TestExportFailureIsHarmless: with no collector listening, events are
// taken and Close returns within its bound; nothing reaches the run.
func TestExportFailureIsHarmless(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	r, err := Start(context.Background(), Config{Traces: true, Metrics: true, Logs: true, Endpoint: dead, ServiceName: "x"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range []event.Event{
		{Time: now, Run: "r", Data: event.RunStarted{Stages: []string{"a"}}},
		{Time: now, Run: "r", Stage: "a", Data: event.StageQueued{}},
		{Time: now, Run: "r", Stage: "a", Attempt: 1, Data: event.StageStarted{}},
		{Time: now, Run: "r", Stage: "a", Attempt: 1, Data: event.VMBooted{BootMS: 2000, Accel: "tcg"}},
		{Time: now, Run: "r", Stage: "a", Attempt: 1, Data: event.NewExecOutput("stdout", []byte("partial"))},
		{Time: now, Run: "r", Stage: "a", Attempt: 1, Data: event.LLMRequest{Provider: "openai", Model: "m", Status: 500}},
		{Time: now, Run: "r", Stage: "a", Attempt: 1, Data: event.StageFailed{Error: "boom", Attempts: 1}},
		{Time: now, Run: "r", Data: event.RunFinished{Status: "failed", Error: "boom"}},
		{Time: now, Run: "r", Stage: "late", Data: event.StageQueued{}}, // after the end: ignored, no panic
	} {
		r.Emit(e)
	}
	start := time.Now()
	r.Close()
	r.Close()
	if d := time.Since(start); d > closeTimeout+3*time.Second {
		t.Fatalf("Close took %v with a dead collector", d)
	}
}

// TestOffWithoutConfig: nothing configured, nothing started.
func TestOffWithoutConfig(t *testing.T) {
	r, err := Start(context.Background(), Config{}, Options{})
	if r != nil || err != nil {
		t.Fatalf("Start with nothing to export: %v %v", r, err)
	}
}
