package llm_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// guestKey is what a guest's SDK is configured with: a placeholder.
const guestKey = "voidbox-placeholder"

// TestAnthropicSDKThroughGateway is the wire-compatibility proof: the
// official SDK, pointed at gateway → fake, streams a tool_use and then a
// text answer, while the provider only ever sees the host key.
func TestAnthropicSDKThroughGateway(t *testing.T) {
	fake := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": "echo hi > /workspace/output.json"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 || res[0].Content != "exit 0" {
				t.Errorf("tool results %+v", res)
			}
			return llmtest.Text("done: " + res[0].Content)
		}),
	)
	fake.RequireKey(canary)
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Prices: map[string]llm.Price{"claude-sonnet-4-5": testPrice}})
	c := anthropic.NewClient(aoption.WithBaseURL(b.url), aoption.WithAPIKey(guestKey), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeSonnet4_5,
		MaxTokens: 1024,
		Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"command": map[string]string{"type": "string"}},
		}, "bash")},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("write output.json"))},
	}
	stream := func() anthropic.Message {
		t.Helper()
		s := c.Messages.NewStreaming(context.Background(), params)
		defer s.Close()
		var msg anthropic.Message
		for s.Next() {
			if err := msg.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	first := stream()
	use := first.Content[0].AsToolUse()
	var in struct{ Command string }
	if err := json.Unmarshal(use.Input, &in); err != nil || use.Name != "bash" || in.Command != "echo hi > /workspace/output.json" {
		t.Fatalf("tool_use %s %s: %v", use.Name, use.Input, err)
	}
	params.Messages = append(params.Messages, first.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "exit 0", false)))
	second := stream()
	if got := second.Content[0].AsText().Text; got != "done: exit 0" || second.StopReason != anthropic.StopReasonEndTurn {
		t.Fatalf("answer %q stop %q", got, second.StopReason)
	}
	if got := fake.AuthSeen(); len(got) != 1 || got[0] != canary {
		t.Fatalf("provider saw %q", got)
	}
	checkTotals(t, b, fake.TotalUsage(), 2)
}

func TestOpenAISDKThroughGateway(t *testing.T) {
	fake := llmtest.NewOpenAI(t,
		llmtest.ToolCall("bash", map[string]any{"command": "date"}).WithUsage(21, 8),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			return llmtest.Text("it is " + r.ToolResults()[0].Content).WithUsage(34, 5)
		}),
	)
	fake.RequireKey(canary)
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{Prices: map[string]llm.Price{"gpt-4o-mini": testPrice}})
	c := openai.NewClient(ooption.WithBaseURL(b.url+"/v1/"), ooption.WithAPIKey(guestKey), ooption.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini",
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "bash", Parameters: shared.FunctionParameters{"type": "object"},
		})},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("what time is it")},
	}
	stream := func() openai.ChatCompletion {
		t.Helper()
		s := c.Chat.Completions.NewStreaming(context.Background(), params)
		defer s.Close()
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return acc.ChatCompletion
	}
	first := stream()
	call := first.Choices[0].Message.ToolCalls[0]
	if call.Function.Name != "bash" || call.Function.Arguments != `{"command":"date"}` {
		t.Fatalf("call %+v", call.Function)
	}
	params.Messages = append(params.Messages, first.Choices[0].Message.ToParam(), openai.ToolMessage("noon", call.ID))
	second := stream()
	if got := second.Choices[0].Message.Content; got != "it is noon" {
		t.Fatalf("answer %q", got)
	}
	// The client never asked for usage; the gateway did, and counted it.
	checkTotals(t, b, llmtest.Usage{Input: 55, Output: 13}, 2)
}
