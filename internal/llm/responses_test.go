package llm_test

import (
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// guestResponses is a Responses request shaped like Codex CLI's.
func guestResponses(stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"gpt-5-codex","stream":` + s + `,"store":false,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}`
}

// TestGatewayResponses: POST /v1/responses reaches the upstream with the
// host key instead of the guest's placeholder, streamed and not, and its
// usage (cached tokens split out of input_tokens) is counted and priced.
func TestGatewayResponses(t *testing.T) {
	for _, stream := range []bool{true, false} {
		fake := llmtest.NewResponses(t, llmtest.Text("hello there").WithUsage(100, 20).WithCache(50, 0))
		fake.RequireKey(canary)
		b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{})
		got := b.do(t, "POST", "/v1/responses", map[string]string{
			"Authorization": "Bearer voidbox-placeholder", "Session-Id": "s1", "Originator": "codex_exec",
		}, guestResponses(stream))
		if got.status != 200 {
			t.Fatalf("stream=%v: status %d: %s", stream, got.status, got.body)
		}
		if stream && !strings.Contains(got.body, "event: response.completed") {
			t.Errorf("stream body lacks response.completed: %s", got.body)
		}
		req := fake.Requests()[0]
		if req.Auth != canary || req.Header.Get("Originator") != "codex_exec" || req.Header.Get("Session-Id") != "" {
			t.Errorf("upstream saw auth %q, originator %q, session %q", req.Auth, req.Header.Get("Originator"), req.Header.Get("Session-Id"))
		}
		b.waitEvents(t, 1)
		ev := b.ev.list()[0]
		want := llm.Tokens{InputTokens: 100, OutputTokens: 20, CacheReadTokens: 50}
		if ev.Tokens != want || ev.Model != "gpt-5-codex" || !ev.Priced || ev.CostUSD <= 0 || ev.Streamed != stream {
			t.Errorf("stream=%v: event %+v", stream, ev)
		}
		if strings.Contains(got.body, canary) {
			t.Error("the key reached the guest")
		}
	}
}

// TestGatewayResponsesStreamFailure: a response.failed event is reported as
// the request's error.
func TestGatewayResponsesStreamFailure(t *testing.T) {
	fake := llmtest.NewResponses(t, llmtest.StreamError("server_error", "boom"))
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{})
	if got := b.do(t, "POST", "/v1/responses", nil, guestResponses(true)); got.status != 200 {
		t.Fatalf("status %d", got.status)
	}
	b.waitEvents(t, 1)
	if ev := b.ev.list()[0]; ev.Error != "provider stream error: server_error" {
		t.Errorf("error = %q", ev.Error)
	}
}

// TestGatewayResponsesBudget: past the budget the guest gets the OpenAI
// error shape Codex reads, with no retry advised.
func TestGatewayResponsesBudget(t *testing.T) {
	fake := llmtest.NewResponses(t, llmtest.Text("one").WithUsage(5, 5))
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{Budget: llm.NewBudget(llm.Limits{MaxRequests: 1})})
	if got := b.do(t, "POST", "/v1/responses", nil, guestResponses(true)); got.status != 200 {
		t.Fatalf("first: %d %s", got.status, got.body)
	}
	got := b.do(t, "POST", "/v1/responses", nil, guestResponses(true))
	if got.status != 429 || !strings.Contains(got.body, `"code":"insufficient_quota"`) || got.header.Get("X-Should-Retry") != "false" {
		t.Errorf("second: %d %v %s", got.status, got.header, got.body)
	}
	if len(fake.Requests()) != 1 {
		t.Errorf("upstream saw %d requests", len(fake.Requests()))
	}
}

// TestGatewayResponsesOnlyOpenAI: the Responses route exists for provider
// openai only; elsewhere it is a 404 that never reaches the upstream.
func TestGatewayResponsesOnlyOpenAI(t *testing.T) {
	fake := llmtest.NewResponses(t)
	for _, k := range []llm.Kind{llm.KindAnthropic, llm.KindOllama} {
		b := newBox(t, k, fake.URL, llm.Options{})
		if got := b.do(t, "POST", "/v1/responses", nil, guestResponses(true)); got.status != 404 {
			t.Errorf("%s: status %d", k, got.status)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}
