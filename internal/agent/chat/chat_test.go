package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent/chat"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// sender is what the agent loop needs of a client.
type sender interface {
	Send(context.Context, chat.Request) (chat.Response, error)
}

// provider builds a fake server and a client for it.
type provider struct {
	name   string
	server func(testing.TB, ...llmtest.Turn) *llmtest.Server
	client func(url string, opts chat.Options) sender
}

var providers = []provider{
	{"anthropic", llmtest.NewAnthropic, func(u string, o chat.Options) sender { return chat.NewAnthropic(u, o) }},
	{"openai", llmtest.NewOpenAI, func(u string, o chat.Options) sender { return chat.NewOpenAI(u, o) }},
}

func forEach(t *testing.T, f func(t *testing.T, p provider)) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) { f(t, p) })
	}
}

var noRetry = chat.Options{MaxRetries: -1}

func request(msgs ...chat.Message) chat.Request {
	return chat.Request{
		Model: "test-model", MaxTokens: 1024, System: "You are a test.",
		Messages: msgs,
		Tools: []chat.ToolSpec{{Name: "bash", Description: "run", Schema: json.RawMessage(
			`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"],"additionalProperties":false}`)}},
	}
}

func TestTextAndToolCalls(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		srv := p.server(t,
			llmtest.Reply("let me look", llmtest.Call{Name: "bash", Input: map[string]any{"command": "ls -l"}},
				llmtest.Call{Name: "bash", Input: map[string]any{"command": "echo ü"}}).WithUsage(100, 20),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 2 || res[0].Content != "total 0" || !strings.Contains(res[1].Content, "no such") {
					t.Errorf("tool results %+v", res)
				}
				return llmtest.Text("all done").WithUsage(150, 5)
			}),
		)
		c := p.client(srv.URL, noRetry)
		first := chat.Message{Role: chat.User, Text: "list files"}
		res, err := c.Send(context.Background(), request(first))
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != "let me look" || len(res.Calls) != 2 || res.Calls[0].Name != "bash" || res.Calls[0].ID == "" {
			t.Fatalf("response %+v", res)
		}
		var in map[string]string
		if err := json.Unmarshal(res.Calls[1].Input, &in); err != nil || in["command"] != "echo ü" {
			t.Errorf("input %s (%v)", res.Calls[1].Input, err)
		}
		if res.InputTokens != 100 || res.OutputTokens != 20 || (res.StopReason != "tool_use" && res.StopReason != "tool_calls") {
			t.Errorf("usage/stop %+v", res)
		}
		results := chat.Message{Role: chat.User, Results: []chat.ToolResult{
			{CallID: res.Calls[0].ID, Content: "total 0"},
			{CallID: res.Calls[1].ID, Content: "no such thing", IsError: true},
		}}
		res2, err := c.Send(context.Background(), request(first, res.Message(), results))
		if err != nil {
			t.Fatal(err)
		}
		if res2.Text != "all done" || len(res2.Calls) != 0 || res2.InputTokens != 150 {
			t.Errorf("second response %+v", res2)
		}
		if got := srv.AuthSeen(); len(got) != 1 || got[0] != chat.PlaceholderKey {
			t.Errorf("credentials seen %v", got)
		}
		for _, r := range srv.Requests() {
			if !r.Stream || r.Invalid != "" || r.Model != "test-model" {
				t.Errorf("request %d: stream %v invalid %q model %q", r.N, r.Stream, r.Invalid, r.Model)
			}
			if names := r.ToolNames(); len(names) != 1 || names[0] != "bash" {
				t.Errorf("tools %v", names)
			}
			if !strings.Contains(string(r.Body), `"additionalProperties":false`) {
				t.Errorf("schema keyword lost: %s", r.Body)
			}
		}
	})
}

func TestProviderErrors(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		cases := []struct {
			turn   llmtest.Turn
			status int
			want   []string
		}{
			{llmtest.Error(529, "overloaded_error", "Overloaded"), 529, []string{"529", "Overloaded"}},
			{llmtest.Error(500, "api_error", "Internal server error"), 500, []string{"500", "Internal server error"}},
			{llmtest.Error(400, "invalid_request_error", "max_tokens: too large"), 400, []string{"400", "max_tokens: too large"}},
			{llmtest.StreamError("overloaded_error", "Overloaded mid-stream"), 0, []string{"error event in stream", "Overloaded mid-stream"}},
		}
		for _, c := range cases {
			srv := p.server(t, c.turn)
			_, err := p.client(srv.URL, noRetry).Send(context.Background(), request(chat.Message{Role: chat.User, Text: "hi"}))
			var pe *chat.ProviderError
			if !errors.As(err, &pe) || pe.Status != c.status {
				t.Errorf("error %v (%T), want a ProviderError with status %d", err, err, c.status)
				continue
			}
			for _, w := range append(c.want, p.name) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		}
	})
}

func TestMalformedStream(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		srv := p.server(t, llmtest.MalformedSSE())
		_, err := p.client(srv.URL, noRetry).Send(context.Background(), request(chat.Message{Role: chat.User, Text: "hi"}))
		if err == nil || !strings.Contains(err.Error(), p.name+": malformed stream") {
			t.Errorf("error %v", err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		_, err := p.client("http://127.0.0.1:1", noRetry).Send(context.Background(), request(chat.Message{Role: chat.User, Text: "hi"}))
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.HasPrefix(err.Error(), p.name+": ") {
			t.Errorf("error %v", err)
		}
	})
}

func TestRetryAfterOverload(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		srv := p.server(t, llmtest.Error(529, "overloaded_error", "Overloaded"), llmtest.Text("ok"))
		res, err := p.client(srv.URL, chat.Options{MaxRetries: 1}).Send(context.Background(), request(chat.Message{Role: chat.User, Text: "hi"}))
		if err != nil || res.Text != "ok" || len(srv.Requests()) != 2 {
			t.Errorf("response %+v, error %v, %d requests", res, err, len(srv.Requests()))
		}
	})
}

func TestTruncatedToolInputIsSentBackAsObject(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		srv := p.server(t, llmtest.Text("fine"))
		cut := chat.Message{Role: chat.Assistant, Calls: []chat.ToolCall{{ID: "call_1", Name: "bash", Input: json.RawMessage(`{"command": "ec`)}}}
		res := chat.Message{Role: chat.User, Results: []chat.ToolResult{{CallID: "call_1", Content: "input was cut", IsError: true}}}
		if _, err := p.client(srv.URL, noRetry).Send(context.Background(), request(chat.Message{Role: chat.User, Text: "hi"}, cut, res)); err != nil {
			t.Fatal(err)
		}
		if r := srv.Requests()[0]; r.Invalid != "" {
			t.Errorf("fake rejected the request: %s", r.Invalid)
		}
	})
}

func TestCanceled(t *testing.T) {
	forEach(t, func(t *testing.T, p provider) {
		release := make(chan struct{})
		defer close(release)
		srv := p.server(t, llmtest.Text("slow answer").PauseAfterFirstEvent(release))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := p.client(srv.URL, noRetry).Send(ctx, request(chat.Message{Role: chat.User, Text: "hi"}))
			errc <- err
		}()
		for len(srv.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}
