package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/agent/chat"
	"github.com/voidbox/voidbox/internal/agent/tools"
	"github.com/voidbox/voidbox/internal/event"
)

// loop is one conversation: model turns and the tool calls they ask for.
type loop struct {
	cfg   Config
	ev    *event.Writer
	model model
	tools map[string]tools.Tool
	res   *Result
}

// run talks to the model until it answers without tool calls.
func (l *loop) run(ctx context.Context, req chat.Request) error {
	for turn := 1; ; turn++ {
		resp, err := l.model.Send(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				// Say why ctx ended (a signal, the caller) rather than how
				// the request noticed.
				return fmt.Errorf("turn %d: %w", turn, context.Cause(ctx))
			}
			return fmt.Errorf("turn %d: %w", turn, err)
		}
		l.res.Turns = turn
		l.res.InputTokens += resp.InputTokens
		l.res.OutputTokens += resp.OutputTokens
		l.ev.Send(event.AgentTurn{Turn: turn, InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens, StopReason: resp.StopReason})
		l.res.FinalText = resp.Text
		if len(resp.Calls) == 0 {
			return nil
		}
		if turn >= l.cfg.MaxTurns {
			// The calls of the last allowed turn are not run: their results
			// could never be shown to the model.
			return fmt.Errorf("%w: max_turns (%d) reached", ErrMaxTurns, l.cfg.MaxTurns)
		}
		req.Messages = append(req.Messages, resp.Message())
		results := make([]chat.ToolResult, 0, len(resp.Calls))
		for _, call := range resp.Calls {
			if ctx.Err() != nil {
				return fmt.Errorf("turn %d: %w", turn, context.Cause(ctx))
			}
			results = append(results, l.call(ctx, turn, call))
		}
		req.Messages = append(req.Messages, chat.Message{Role: chat.User, Results: results})
	}
}

// call runs one tool call under the per-tool timeout and reports it.
func (l *loop) call(ctx context.Context, turn int, call chat.ToolCall) chat.ToolResult {
	start := time.Now()
	var res tools.Result
	if t, ok := l.tools[call.Name]; ok {
		tctx, cancel := context.WithTimeout(ctx, time.Duration(l.cfg.ToolTimeout))
		res = t.Call(tctx, call.Input)
		cancel()
	} else {
		res = tools.Errorf("unknown tool %q", call.Name)
	}
	l.res.ToolCalls++
	ev := event.AgentToolCall{
		Turn: turn, Name: call.Name, DurationMS: time.Since(start).Milliseconds(),
		ExitCode: res.ExitCode, Denied: res.Denied,
	}
	if res.IsError {
		ev.Error = res.Error
		if ev.Error == "" {
			ev.Error = "error"
		}
	}
	l.ev.Send(ev)
	return chat.ToolResult{CallID: call.ID, Content: res.Content, IsError: res.IsError}
}
