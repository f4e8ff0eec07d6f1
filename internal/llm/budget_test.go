package llm_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestBudgetMaxRequests: with max_requests 2 the third generation request
// gets an Anthropic-shaped 429 that tells SDKs not to retry, never reaches
// the provider, and is reported; a later attempt's gateway sharing the
// box's budget is refused from its first request.
func TestBudgetMaxRequests(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("one"), llmtest.Text("two"), llmtest.Text("three"))
	budget := llm.NewBudget(llm.Limits{MaxRequests: 2})
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Budget: budget})
	for i := range 2 {
		if got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(i == 1)); got.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, got.status, got.body)
		}
	}
	got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false))
	var body struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if got.status != http.StatusTooManyRequests || json.Unmarshal([]byte(got.body), &body) != nil || body.Type != "error" ||
		body.Error.Type != "rate_limit_error" || !strings.Contains(body.Error.Message, "max_requests (2) reached") {
		t.Fatalf("third request: %d %s", got.status, got.body)
	}
	if got.header.Get("X-Should-Retry") != "false" {
		t.Errorf("x-should-retry = %q", got.header.Get("X-Should-Retry"))
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("the provider saw %d requests", n)
	}
	b.waitEvents(t, 3)
	ev := b.ev.list()[2]
	if !ev.OverBudget || ev.Forwarded || ev.Status != 429 || !strings.Contains(ev.Error, "max_requests") {
		t.Errorf("event %+v", ev)
	}
	if u := b.gw.Usage(); u.Requests != 2 {
		t.Errorf("gateway usage %+v", u)
	}
	if reason, refused := budget.Exhausted(); refused != 1 || reason != "max_requests (2) reached" {
		t.Errorf("exhausted %q %d", reason, refused)
	}
	// Listings cost nothing and pass.
	if got := b.do(t, "GET", "/v1/models", nil, ""); got.status == http.StatusTooManyRequests {
		t.Errorf("a listing was refused: %s", got.body)
	}

	retry := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Budget: budget})
	if got := retry.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)); got.status != http.StatusTooManyRequests {
		t.Errorf("a later attempt of the box: %d %s", got.status, got.body)
	}
}

// TestBudgetTokensAndCost: token limits close the budget once reached, in
// OpenAI's quota shape; a cost limit is refused once a request's cost is
// unknown, since it could no longer be kept.
func TestBudgetTokensAndCost(t *testing.T) {
	fake := llmtest.NewOpenAI(t, llmtest.Text("a fairly long answer"), llmtest.Text("x"))
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{Budget: llm.NewBudget(llm.Limits{MaxOutputTokens: 1})})
	if got := b.do(t, "POST", "/v1/chat/completions", nil, guestOpenAI(false, "")); got.status != 200 {
		t.Fatalf("first: %d %s", got.status, got.body)
	}
	got := b.do(t, "POST", "/v1/chat/completions", nil, guestOpenAI(true, ""))
	var body struct {
		Error struct{ Type, Code, Message string }
	}
	if got.status != 429 || json.Unmarshal([]byte(got.body), &body) != nil || body.Error.Type != "insufficient_quota" ||
		body.Error.Code != "insufficient_quota" || !strings.Contains(body.Error.Message, "max_output_tokens (1) reached") {
		t.Errorf("past max_output_tokens: %d %s", got.status, got.body)
	}

	fake = llmtest.NewAnthropic(t, llmtest.Text("a"), llmtest.Text("b"))
	b = newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Budget: llm.NewBudget(llm.Limits{MaxCostUSD: 100})})
	unpriced := `{"model":"no-such-priced-model","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	if got := b.do(t, "POST", "/v1/messages", nil, unpriced); got.status != 200 {
		t.Fatalf("unpriced: %d %s", got.status, got.body)
	}
	if got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)); got.status != 429 || !strings.Contains(got.body, "cannot be kept") {
		t.Errorf("after an unpriced request under max_cost_usd: %d %s", got.status, got.body)
	}
	fake = llmtest.NewAnthropic(t, llmtest.Text("a"), llmtest.Text("b"))
	b = newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Budget: llm.NewBudget(llm.Limits{MaxInputTokens: 1, MaxCostUSD: 1e-12})})
	b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false))
	if got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)); got.status != 429 || !strings.Contains(got.body, "max_input_tokens (1) reached") {
		t.Errorf("past max_input_tokens: %d %s", got.status, got.body)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, l := range []llm.Limits{{MaxRequests: -1}, {MaxInputTokens: -1}, {MaxOutputTokens: -2}, {MaxCostUSD: -0.5}} {
		if err := l.Validate(); !errors.Is(err, llm.ErrInvalid) {
			t.Errorf("%+v: %v", l, err)
		}
		if _, err := llm.NewGateway(llm.Provider{Kind: llm.KindOllama}, llm.Options{Budget: llm.NewBudget(l)}); err == nil {
			t.Errorf("%+v: a gateway took it", l)
		}
	}
	if err := (llm.Limits{MaxRequests: 3, MaxCostUSD: 1.5}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestGatewayMaxConcurrent: past MaxConcurrent requests in flight, the next
// waits for a free slot instead of reaching the provider.
func TestGatewayMaxConcurrent(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"model":"qwen","message":{"role":"assistant","content":"ok"},"done":true,"prompt_eval_count":1,"eval_count":1}`))
	}))
	defer up.Close()
	b := newBox(t, llm.KindOllama, up.URL, llm.Options{MaxConcurrent: 2})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			b.do(t, "POST", "/api/chat", nil, `{"model":"qwen","stream":false,"messages":[{"role":"user","content":"hi"}]}`)
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a third would have arrived by now
	if n := inFlight.Load(); n != 2 {
		t.Errorf("%d requests at the provider, want 2", n)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak %d in flight, want 2", p)
	}
}
