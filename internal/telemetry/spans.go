package telemetry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/voidbox/voidbox/internal/event"
)

// stageSpans is what is open for one stage. The tree is
//
//	run <name>
//	└─ stage <name>                       (stage.queued → its final event)
//	   └─ attempt <n>                     (stage.started → retry or end)
//	      ├─ vm.boot                      (vm.booted, back-dated by boot_ms)
//	      └─ exec | invoke_agent <name>   (vm.booted → the attempt's end)
//	         ├─ chat <model>              (llm.request, back-dated by duration_ms)
//	         └─ execute_tool <tool>       (agent.tool_call, back-dated)
type stageSpans struct {
	span       trace.Span
	ctx        context.Context
	attempt    trace.Span
	attemptCtx context.Context
	exec       trace.Span
	execCtx    context.Context
	agent      bool
	vmUp       bool
	started    time.Time // the first attempt's start
	in, out    int64     // tokens of the attempt's model requests
	lines      map[string]string
}

// Emit derives spans, metrics and logs from one event.
func (r *Run) Emit(e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.finished || e.Data == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	at := trace.WithTimestamp(e.Time)
	switch d := e.Data.(type) {
	case event.RunStarted:
		r.startRoot(e, attribute.StringSlice("voidbox.run.stages", d.Stages), attribute.Int("voidbox.run.max_parallel", d.MaxParallel))
		return
	case event.RunFinished:
		for name, s := range r.stages {
			r.endStage(s, name, e.Time, "run ended", false)
		}
		r.startRoot(e)
		r.root.SetAttributes(attribute.String("voidbox.run.status", d.Status))
		if d.Status != "succeeded" {
			r.root.SetStatus(codes.Error, d.Error)
		}
		r.root.End(at)
		r.finished = true // the engine drops stragglers; so does the trace
		if r.inst.on {
			r.inst.runs.Add(context.Background(), 1, metric.WithAttributes(attribute.String("voidbox.run.status", d.Status)))
		}
		return
	}
	if e.Stage == "" {
		return
	}
	s := r.stage(e)
	switch d := e.Data.(type) {
	case event.StageStarted:
		r.endAttempt(s, e.Time, "")
		if s.started.IsZero() {
			s.started = e.Time
		}
		s.attemptCtx, s.attempt = r.tracer.Start(s.ctx, fmt.Sprintf("attempt %d", e.Attempt), at,
			trace.WithAttributes(attribute.Int("voidbox.stage.attempt", e.Attempt)))
		s.in, s.out = 0, 0
	case event.VMBooted:
		parent := r.attemptCtx(s)
		boot := time.Duration(d.BootMS * float64(time.Millisecond))
		_, vm := r.tracer.Start(parent, "vm.boot", trace.WithTimestamp(e.Time.Add(-boot)),
			trace.WithAttributes(attribute.String("voidbox.vm.accel", d.Accel), attribute.String("voidbox.vm.kernel", d.Kernel)))
		vm.End(at)
		s.execCtx, s.exec = r.tracer.Start(parent, "exec", at)
		if r.inst.on {
			r.inst.bootDuration.Record(context.Background(), boot.Seconds(), metric.WithAttributes(attribute.String("voidbox.vm.accel", d.Accel)))
			r.inst.vms.Add(context.Background(), 1)
		}
		s.vmUp = true
	case event.ExecOutput:
		r.output(s, e, d)
	case event.AgentStarted:
		s.agent = true
		if s.exec != nil {
			s.exec.SetName("invoke_agent " + e.Stage)
			s.exec.SetAttributes(semconv.GenAIOperationNameInvokeAgent, semconv.GenAIAgentName(e.Stage),
				attribute.StringSlice("voidbox.agent.tools", d.Tools))
		}
	case event.LLMRequest:
		r.llmRequest(s, e, d)
	case event.AgentToolCall:
		dur := time.Duration(d.DurationMS) * time.Millisecond
		attrs := []attribute.KeyValue{semconv.GenAIOperationNameExecuteTool, semconv.GenAIToolName(d.Name),
			attribute.Int("voidbox.agent.turn", d.Turn)}
		if d.ExitCode != nil {
			attrs = append(attrs, attribute.Int("voidbox.tool.exit_code", *d.ExitCode))
		}
		if d.Denied {
			attrs = append(attrs, attribute.Bool("voidbox.tool.denied", true))
		}
		_, sp := r.tracer.Start(r.execCtxOf(s), "execute_tool "+d.Name, trace.WithTimestamp(e.Time.Add(-dur)),
			trace.WithAttributes(attrs...))
		if d.Error != "" {
			sp.SetStatus(codes.Error, d.Error)
			sp.SetAttributes(semconv.ErrorTypeKey.String("tool_error"))
		}
		sp.End(at)
	case event.AgentDenied:
		if s.exec != nil {
			s.exec.AddEvent("command denied", at, trace.WithAttributes(attribute.String("voidbox.command", d.Command),
				attribute.String("voidbox.reason", d.Reason)))
		}
	case event.AgentFinished:
		if s.exec != nil {
			s.exec.SetAttributes(attribute.Int("voidbox.agent.turns", d.Turns), attribute.Int("voidbox.agent.tool_calls", d.ToolCalls))
			if d.Error != "" {
				s.exec.SetStatus(codes.Error, d.Error)
			}
		}
	case event.StageRetrying:
		r.endAttempt(s, e.Time, d.Error)
		r.logEvent(s, e, otellog.SeverityWarn, "retrying: "+d.Error)
	case event.StageSucceeded:
		s.span.SetAttributes(attribute.Int("voidbox.stage.output_bytes", d.OutputBytes))
		if d.ExitCode != nil {
			s.span.SetAttributes(attribute.Int("voidbox.stage.exit_code", *d.ExitCode))
		}
		r.endStage(s, e.Stage, e.Time, "", true)
	case event.StageFailed:
		s.span.SetAttributes(attribute.Int("voidbox.stage.attempts", d.Attempts))
		if d.ExitCode != nil {
			s.span.SetAttributes(attribute.Int("voidbox.stage.exit_code", *d.ExitCode))
		}
		r.logEvent(s, e, otellog.SeverityError, "failed: "+d.Error)
		r.endStage(s, e.Stage, e.Time, d.Error, true)
	case event.StageSkipped:
		r.endStage(s, e.Stage, e.Time, "skipped: "+d.Reason, true)
	case event.StageCancelled:
		r.endStage(s, e.Stage, e.Time, "cancelled: "+d.Reason, true)
	}
}

// startRoot starts the run span if nothing has yet.
func (r *Run) startRoot(e event.Event, attrs ...attribute.KeyValue) {
	if r.root != nil {
		return
	}
	attrs = append(attrs, attribute.String("voidbox.run.name", e.Run))
	if r.runID != "" {
		attrs = append(attrs, attribute.String("voidbox.run.id", r.runID))
	}
	r.rootCtx, r.root = r.tracer.Start(context.Background(), "run "+e.Run, trace.WithTimestamp(e.Time),
		trace.WithAttributes(attrs...))
}

// stage returns the stage's spans, starting its span at its first event.
func (r *Run) stage(e event.Event) *stageSpans {
	if s, ok := r.stages[e.Stage]; ok {
		return s
	}
	r.startRoot(e)
	s := &stageSpans{}
	s.ctx, s.span = r.tracer.Start(r.rootCtx, "stage "+e.Stage, trace.WithTimestamp(e.Time),
		trace.WithAttributes(attribute.String("voidbox.stage.name", e.Stage)))
	r.stages[e.Stage] = s
	return s
}

func (r *Run) attemptCtx(s *stageSpans) context.Context {
	if s.attemptCtx != nil {
		return s.attemptCtx
	}
	return s.ctx
}

func (r *Run) execCtxOf(s *stageSpans) context.Context {
	if s.execCtx != nil {
		return s.execCtx
	}
	return r.attemptCtx(s)
}

// endAttempt ends the attempt's exec and attempt spans (failed when why is
// not empty) and counts its VM down.
func (r *Run) endAttempt(s *stageSpans, at time.Time, why string) {
	r.flushLines(s, at)
	if s.exec != nil {
		if s.agent {
			s.exec.SetAttributes(semconv.GenAIUsageInputTokens(int(s.in)), semconv.GenAIUsageOutputTokens(int(s.out)))
		}
		if why != "" {
			s.exec.SetStatus(codes.Error, why)
		}
		s.exec.End(trace.WithTimestamp(at))
		s.exec, s.execCtx = nil, nil
	}
	if s.attempt != nil {
		if why != "" {
			s.attempt.SetStatus(codes.Error, why)
		}
		s.attempt.End(trace.WithTimestamp(at))
		s.attempt, s.attemptCtx = nil, nil
	}
	if s.vmUp && r.inst.on {
		r.inst.vms.Add(context.Background(), -1)
	}
	s.vmUp = false
}

// endStage ends everything of a stage; final says the stage's own final
// event did it (its duration is recorded).
func (r *Run) endStage(s *stageSpans, name string, at time.Time, why string, final bool) {
	if s.span == nil {
		return
	}
	r.endAttempt(s, at, why)
	status := "succeeded"
	if why != "" {
		status, _, _ = strings.Cut(why, ":")
		if status != "skipped" && status != "cancelled" {
			status = "failed"
		}
		s.span.SetStatus(codes.Error, why)
	}
	s.span.SetAttributes(attribute.String("voidbox.stage.status", status))
	s.span.End(trace.WithTimestamp(at))
	s.span = nil
	if final && r.inst.on && !s.started.IsZero() {
		r.inst.stageDuration.Record(context.Background(), at.Sub(s.started).Seconds(),
			metric.WithAttributes(attribute.String("voidbox.stage.name", name), attribute.String("voidbox.stage.status", status)))
	}
}

// llmRequest is one model request through the host gateway: its provider,
// model and token counts are the host's, never the guest's claims.
func (r *Run) llmRequest(s *stageSpans, e event.Event, d event.LLMRequest) {
	dur := time.Duration(d.DurationMS) * time.Millisecond
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameChat, semconv.GenAIProviderNameKey.String(d.Provider),
		semconv.GenAIRequestModel(d.Model), semconv.GenAIUsageInputTokens(int(d.InputTokens)),
		semconv.GenAIUsageOutputTokens(int(d.OutputTokens)), semconv.HTTPRequestMethodKey.String(d.Method),
		semconv.URLPath(d.Path), semconv.HTTPResponseStatusCode(d.Status), attribute.Bool("voidbox.llm.streamed", d.Streamed),
		attribute.Float64("voidbox.llm.cost_usd", d.CostUSD)}
	_, sp := r.tracer.Start(r.execCtxOf(s), "chat "+d.Model, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(e.Time.Add(-dur)), trace.WithAttributes(attrs...))
	if d.Status >= 400 || d.Error != "" {
		sp.SetStatus(codes.Error, d.Error)
		etype := d.Error
		if d.Status >= 400 {
			etype = fmt.Sprint(d.Status)
		}
		sp.SetAttributes(semconv.ErrorTypeKey.String(etype))
	}
	sp.End(trace.WithTimestamp(e.Time))
	s.in += d.InputTokens
	s.out += d.OutputTokens
	if s.exec != nil {
		s.exec.SetAttributes(semconv.GenAIProviderNameKey.String(d.Provider), semconv.GenAIRequestModel(d.Model))
	}
	if r.inst.on {
		ctx := context.Background()
		common := []attribute.KeyValue{semconv.GenAIOperationNameChat, semconv.GenAIProviderNameKey.String(d.Provider),
			semconv.GenAIRequestModel(d.Model)}
		r.inst.tokens.Record(ctx, d.InputTokens, metric.WithAttributes(append(common, semconv.GenAITokenTypeInput)...))
		r.inst.tokens.Record(ctx, d.OutputTokens, metric.WithAttributes(append(common, semconv.GenAITokenTypeOutput)...))
		r.inst.opDuration.Record(ctx, dur.Seconds(), metric.WithAttributes(common...))
		if d.CostUSD > 0 {
			r.inst.cost.Add(ctx, d.CostUSD, metric.WithAttributes(common...))
		}
	}
}
