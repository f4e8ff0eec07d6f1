package llmtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func anthropicClient(baseURL, key string) anthropic.Client {
	return anthropic.NewClient(
		option.WithBaseURL(baseURL),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	)
}

var bashTool = anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
	Properties: map[string]any{"command": map[string]string{"type": "string"}},
	Required:   []string{"command"},
}, "bash")

// streamMessage runs one streaming call and accumulates the message.
func streamMessage(t *testing.T, c anthropic.Client, params anthropic.MessageNewParams) (anthropic.Message, error) {
	t.Helper()
	stream := c.Messages.NewStreaming(context.Background(), params)
	defer stream.Close()
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			return msg, err
		}
	}
	return msg, stream.Err()
}

// TestAnthropicSDKToolLoop drives a two-turn tool loop with the official
// SDK, streaming: a tool_use answer, then a text answer built from the
// tool_result the client sent back.
func TestAnthropicSDKToolLoop(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": "echo hi > /workspace/output.json"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 {
				t.Errorf("tool results = %+v, want one", res)
				return llmtest.Error(500, "api_error", "bad test")
			}
			return llmtest.Text("the tool said: " + res[0].Content)
		}),
	)
	c := anthropicClient(srv.URL, "sk-test")
	params := anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeSonnet5_5,
		MaxTokens: 1024,
		Tools:     []anthropic.ToolUnionParam{bashTool},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("write the file"))},
	}
	first, err := streamMessage(t, c, params)
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	if first.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("stop_reason = %q, want tool_use", first.StopReason)
	}
	if len(first.Content) != 1 {
		t.Fatalf("content = %d blocks, want 1", len(first.Content))
	}
	use := first.Content[0].AsToolUse()
	var input struct{ Command string }
	if err := json.Unmarshal(use.Input, &input); err != nil {
		t.Fatalf("tool input %q: %v", use.Input, err)
	}
	if use.Name != "bash" || input.Command != "echo hi > /workspace/output.json" {
		t.Fatalf("tool_use = %s %q", use.Name, input.Command)
	}

	params.Messages = append(params.Messages, first.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "hi", false)))
	second, err := streamMessage(t, c, params)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if got := second.Content[0].AsText().Text; got != "the tool said: hi" {
		t.Fatalf("text = %q", got)
	}
	if second.StopReason != anthropic.StopReasonEndTurn {
		t.Fatalf("stop_reason = %q", second.StopReason)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d", len(reqs))
	}
	for i, r := range reqs {
		if r.Auth != "sk-test" || r.Status != 200 || !r.Stream || r.Model != string(anthropic.ModelClaudeSonnet5_5) {
			t.Errorf("request %d: auth %q status %d stream %v model %q", i, r.Auth, r.Status, r.Stream, r.Model)
		}
	}
	if second.Usage.InputTokens != int64(reqs[1].Usage.Input) || second.Usage.OutputTokens != int64(reqs[1].Usage.Output) {
		t.Errorf("SDK usage %d/%d, fake reported %+v", second.Usage.InputTokens, second.Usage.OutputTokens, reqs[1].Usage)
	}
	if srv.Remaining() != 0 {
		t.Errorf("unused turns: %d", srv.Remaining())
	}
}

func TestAnthropicSDKNonStreaming(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.Reply("running it", llmtest.Call{Name: "bash", Input: map[string]any{"command": "ls"}}).WithUsage(120, 30).WithCache(1000, 50),
		llmtest.MaxTokens("cut sh"),
	)
	c := anthropicClient(srv.URL, "sk-test")
	params := anthropic.MessageNewParams{
		Model: anthropic.ModelClaudeHaiku4_5, MaxTokens: 64, Tools: []anthropic.ToolUnionParam{bashTool},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("list"))},
	}
	msg, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[0].AsText().Text != "running it" || msg.Content[1].AsToolUse().Name != "bash" {
		t.Fatalf("content = %+v", msg.Content)
	}
	u := msg.Usage
	if u.InputTokens != 120 || u.OutputTokens != 30 || u.CacheReadInputTokens != 1000 || u.CacheCreationInputTokens != 50 {
		t.Fatalf("usage = %+v", u)
	}
	params.Messages = append(params.Messages, msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[1].AsToolUse().ID, "a b", false)))
	msg, err = c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonMaxTokens {
		t.Fatalf("stop_reason = %q", msg.StopReason)
	}
}

func TestAnthropicErrorsReachTheSDK(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.Error(529, "overloaded_error", "Overloaded"),
		llmtest.MalformedSSE(),
		llmtest.StreamError("overloaded_error", "Overloaded"),
		llmtest.StreamError("overloaded_error", "Overloaded"),
	)
	c := anthropicClient(srv.URL, "sk-test")
	params := anthropic.MessageNewParams{
		Model: anthropic.ModelClaudeHaiku4_5, MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	_, err := c.Messages.New(context.Background(), params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 || !strings.Contains(apiErr.RawJSON(), "overloaded_error") {
		t.Fatalf("error = %v", err)
	}
	if _, err := streamMessage(t, c, params); err == nil {
		t.Fatal("malformed stream: no error")
	}
	if _, err := streamMessage(t, c, params); err == nil || !strings.Contains(err.Error(), "overloaded") {
		t.Fatalf("stream error event: %v", err)
	}
	// Without streaming the same turn is an HTTP error.
	_, err = c.Messages.New(context.Background(), params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 {
		t.Fatalf("non-streamed StreamError: %v", err)
	}
}

func TestAnthropicRequireKey(t *testing.T) {
	srv := llmtest.NewAnthropic(t, llmtest.Text("never"))
	srv.RequireKey("sk-right")
	c := anthropicClient(srv.URL, "sk-wrong")
	_, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.ModelClaudeHaiku4_5, MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("error = %v, want 401", err)
	}
	if got := srv.AuthSeen(); len(got) != 1 || got[0] != "sk-wrong" {
		t.Fatalf("auth seen = %q", got)
	}
	if srv.Remaining() != 1 {
		t.Fatal("a rejected request used a turn")
	}
}
