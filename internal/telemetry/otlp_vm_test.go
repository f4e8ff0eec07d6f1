package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/runspec"
	"github.com/voidbox/voidbox/internal/spec"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestOTLPExportVM runs a pipeline of a command stage and an agent stage
// (against the fake Anthropic server) with an observe block pointing at an
// OTLP/HTTP receiver, and checks the span tree, the GenAI attributes, the
// metrics and the output logs that arrive.
func TestOTLPExportVM(t *testing.T) {
	vmtest.Setup(t)
	rcv := newReceiver(t)
	model := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": `echo '{"ok": true}' > /workspace/output.json`}),
		llmtest.Text("done"))
	t.Setenv("VOIDBOX_TEST_KEY", "sk-test")
	src := fmt.Sprintf(`api_version: v1
kind: pipeline
name: traced
sandbox: {memory_mb: 256}
observe:
  otlp_endpoint: %s
  service_name: vbtest
pipeline:
  boxes:
    - name: hello
      exec: [sh, -c, "echo hello from the guest"]
    - name: think
      prompt: write ok
      llm: {provider: claude, base_url: %q, api_key_env: VOIDBOX_TEST_KEY, model: claude-sonnet-4-5}
`, rcv.URL, model.URL)
	s, err := spec.Parse("traced.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Resolve(s.Observe, func(string) string { return "" })
	if err != nil || !cfg.Traces || !cfg.Metrics || !cfg.Logs || cfg.Endpoint != rcv.URL {
		t.Fatalf("config %+v %v", cfg, err)
	}
	job, err := runspec.Build(s, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	tel, err := Start(context.Background(), cfg, Options{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := job.Run(ctx, voidbox.RunOptions{Events: tel})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	tel.Close()

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.service != "vbtest" {
		t.Errorf("service.name %q", rcv.service)
	}
	byID := map[string]*tracepb.Span{}
	for _, sp := range rcv.spans {
		byID[hex.EncodeToString(sp.SpanId)] = sp
	}
	path := func(sp *tracepb.Span) string {
		var names []string
		for sp != nil {
			names = append([]string{sp.Name}, names...)
			sp = byID[hex.EncodeToString(sp.ParentSpanId)]
		}
		return strings.Join(names, " > ")
	}
	found := map[string]*tracepb.Span{}
	for _, sp := range rcv.spans {
		found[path(sp)] = sp
	}
	for _, want := range []string{
		"run traced",
		"run traced > stage hello > attempt 1 > vm.boot",
		"run traced > stage hello > attempt 1 > exec",
		"run traced > stage think > attempt 1 > vm.boot",
		"run traced > stage think > attempt 1 > invoke_agent think",
		"run traced > stage think > attempt 1 > invoke_agent think > chat claude-sonnet-4-5",
		"run traced > stage think > attempt 1 > invoke_agent think > execute_tool bash",
	} {
		if found[want] == nil {
			var got []string
			for p := range found {
				got = append(got, p)
			}
			t.Fatalf("no span %q; spans:\n  %s", want, strings.Join(got, "\n  "))
		}
	}
	chats := 0
	for _, sp := range rcv.spans {
		if !strings.HasPrefix(sp.Name, "chat ") {
			continue
		}
		chats++
		a := attrs(sp.Attributes)
		if a["gen_ai.operation.name"] != "chat" || a["gen_ai.provider.name"] != "anthropic" ||
			a["gen_ai.request.model"] != "claude-sonnet-4-5" || a["gen_ai.usage.input_tokens"] == "0" ||
			a["gen_ai.usage.input_tokens"] == "" || a["gen_ai.usage.output_tokens"] == "" || sp.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("chat span attributes %v (kind %v)", a, sp.Kind)
		}
	}
	if chats != 2 {
		t.Errorf("%d chat spans, want one per model request (2)", chats)
	}
	agent := attrs(found["run traced > stage think > attempt 1 > invoke_agent think"].Attributes)
	if agent["gen_ai.operation.name"] != "invoke_agent" || agent["gen_ai.provider.name"] != "anthropic" ||
		agent["gen_ai.request.model"] != "claude-sonnet-4-5" || agent["gen_ai.usage.output_tokens"] == "" {
		t.Errorf("invoke_agent attributes %v", agent)
	}
	tool := attrs(found["run traced > stage think > attempt 1 > invoke_agent think > execute_tool bash"].Attributes)
	if tool["gen_ai.operation.name"] != "execute_tool" || tool["gen_ai.tool.name"] != "bash" {
		t.Errorf("execute_tool attributes %v", tool)
	}
	if st := attrs(found["run traced > stage hello"].Attributes); st["voidbox.stage.status"] != "succeeded" || st["voidbox.stage.exit_code"] != "0" {
		t.Errorf("stage attributes %v", st)
	}
	if root := attrs(found["run traced"].Attributes); root["voidbox.run.id"] != "r1" || root["voidbox.run.status"] != "succeeded" {
		t.Errorf("run attributes %v", root)
	}
	for _, m := range []string{"voidbox.stage.duration", "voidbox.vm.boot.duration", "gen_ai.client.token.usage",
		"gen_ai.client.operation.duration", "voidbox.vms.running", "voidbox.runs"} {
		if !rcv.metrics[m] {
			t.Errorf("no metric %s (got %v)", m, rcv.metrics)
		}
	}
	line := false
	for _, l := range rcv.logs {
		if l.Body.GetStringValue() == "hello from the guest" && attrs(l.Attributes)["voidbox.stage.name"] == "hello" && len(l.TraceId) > 0 {
			line = true
		}
	}
	if !line {
		t.Errorf("no log record of the stage's output line in %d records", len(rcv.logs))
	}
}
