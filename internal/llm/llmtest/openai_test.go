package llmtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func openAIClient(baseURL, key string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(baseURL+"/v1/"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	)
}

var openAIBash = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "bash",
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"command": map[string]string{"type": "string"}},
	},
})

// streamCompletion runs one streaming call through the SDK's accumulator.
func streamCompletion(c openai.Client, params openai.ChatCompletionNewParams) (openai.ChatCompletion, error) {
	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	return acc.ChatCompletion, stream.Err()
}

func TestOpenAISDKToolLoop(t *testing.T) {
	srv := llmtest.NewOpenAI(t,
		llmtest.ToolCall("bash", map[string]any{"command": "echo hi"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 {
				t.Errorf("tool results = %+v", res)
				return llmtest.Error(500, "server_error", "bad test")
			}
			return llmtest.Text("got "+res[0].Content).WithUsage(40, 7)
		}),
	)
	c := openAIClient(srv.URL, "sk-oai")
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Tools:    []openai.ChatCompletionToolUnionParam{openAIBash},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("run it")},
	}
	first, err := streamCompletion(c, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := first.Choices[0].Message
	if first.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 {
		t.Fatalf("finish %q, tool calls %+v", first.Choices[0].FinishReason, msg.ToolCalls)
	}
	call := msg.ToolCalls[0]
	var args struct{ Command string }
	if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || call.Function.Name != "bash" || args.Command != "echo hi" {
		t.Fatalf("call %s(%s): %v", call.Function.Name, call.Function.Arguments, err)
	}
	if srv.Requests()[0].Usage != (llmtest.Usage{}) {
		t.Error("usage recorded for a stream that did not ask for it")
	}

	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("hi", call.ID))
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	second, err := streamCompletion(c, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Choices[0].Message.Content; got != "got hi" {
		t.Fatalf("content = %q", got)
	}
	if second.Usage.PromptTokens != 40 || second.Usage.CompletionTokens != 7 {
		t.Fatalf("usage = %+v", second.Usage)
	}
	if got := srv.AuthSeen(); len(got) != 1 || got[0] != "sk-oai" {
		t.Fatalf("auth seen %q", got)
	}
}

func TestOpenAISDKNonStreamingAndErrors(t *testing.T) {
	srv := llmtest.NewOpenAI(t,
		llmtest.Text("plain").WithUsage(10, 2).WithCache(6, 0),
		llmtest.Error(429, "rate_limit_error", "slow down"),
		llmtest.MalformedSSE(),
	)
	c := openAIClient(srv.URL, "sk-oai")
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}
	got, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != "plain" || got.Choices[0].FinishReason != "stop" {
		t.Fatalf("completion = %+v", got.Choices[0])
	}
	if got.Usage.PromptTokens != 16 || got.Usage.PromptTokensDetails.CachedTokens != 6 || got.Usage.CompletionTokens != 2 {
		t.Fatalf("usage = %+v", got.Usage)
	}
	_, err = c.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "rate_limit_error" {
		t.Fatalf("error = %v", err)
	}
	if _, err := streamCompletion(c, params); err == nil {
		t.Fatal("malformed stream: no error")
	}
}
