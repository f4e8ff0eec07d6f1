package llm_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// testPrice is set for every test model so cost can be checked exactly.
var testPrice = llm.Price{Input: 3, Output: 15, CacheRead: 0.3, CacheWrite: 3.75}

func wantCost(u llmtest.Usage) float64 {
	return (float64(u.Input)*testPrice.Input + float64(u.Output)*testPrice.Output +
		float64(u.CacheRead)*testPrice.CacheRead + float64(u.CacheWrite)*testPrice.CacheWrite) / 1e6
}

func checkTotals(t *testing.T, b *box, want llmtest.Usage, requests int64) {
	t.Helper()
	got := b.gw.Usage()
	if got.Requests != requests || got.InputTokens != int64(want.Input) || got.OutputTokens != int64(want.Output) ||
		got.CacheReadTokens != int64(want.CacheRead) || got.CacheWriteTokens != int64(want.CacheWrite) {
		t.Fatalf("gateway usage %+v, provider reported %+v over %d requests", got, want, requests)
	}
	if math.Abs(got.CostUSD-wantCost(want)) > 1e-12 {
		t.Fatalf("cost %v, want %v", got.CostUSD, wantCost(want))
	}
	if got.Unpriced != 0 {
		t.Fatalf("unpriced = %d", got.Unpriced)
	}
}

func TestGatewayUsageAnthropic(t *testing.T) {
	fake := llmtest.NewAnthropic(t,
		llmtest.Text("json answer").WithUsage(100, 20).WithCache(500, 40),
		llmtest.ToolCall("bash", map[string]any{"command": "ls"}).WithUsage(7, 3).WithCache(11, 13),
		llmtest.Text("estimated usage, streamed"),
	)
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{Prices: map[string]llm.Price{"claude-sonnet-4-5": testPrice}})
	for i, stream := range []bool{false, true, true} {
		got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(stream))
		if got.status != 200 {
			t.Fatalf("request %d: %d %s", i, got.status, got.body)
		}
	}
	checkTotals(t, b, fake.TotalUsage(), 3)
	evs := b.ev.list()
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		r := fake.Requests()[i]
		if ev.Streamed != r.Stream || ev.Status != 200 || ev.Model != "claude-sonnet-4-5" || !ev.Priced || !ev.Forwarded ||
			ev.InputTokens != int64(r.Usage.Input) || ev.OutputTokens != int64(r.Usage.Output) || ev.Error != "" {
			t.Errorf("event %d = %+v, provider reported %+v", i, ev, r.Usage)
		}
		if ev.Method != "POST" || ev.Path != "/v1/messages" || ev.Duration <= 0 {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
}

func TestGatewayUsageOpenAI(t *testing.T) {
	fake := llmtest.NewOpenAI(t,
		llmtest.Text("json").WithUsage(50, 5).WithCache(30, 0),
		llmtest.Text("stream, client did not ask for usage").WithUsage(60, 6),
		llmtest.ToolCall("bash", map[string]any{"command": "x"}).WithUsage(70, 7).WithCache(8, 0),
	)
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{Prices: map[string]llm.Price{"gpt-4o-mini": testPrice}})
	bodies := []string{
		guestOpenAI(false, ""),
		guestOpenAI(true, ""),
		guestOpenAI(true, `,"stream_options":{"include_usage":false}`),
	}
	for i, body := range bodies {
		got := b.do(t, "POST", "/v1/chat/completions", nil, body)
		if got.status != 200 {
			t.Fatalf("request %d: %d %s", i, got.status, got.body)
		}
		if i > 0 && !strings.Contains(got.body, `"choices":[]`) {
			t.Errorf("request %d: no usage chunk reached the guest", i)
		}
	}
	for i, r := range fake.Requests()[1:] {
		opts, _ := r.JSON["stream_options"].(map[string]any)
		if opts["include_usage"] != true {
			t.Errorf("streaming request %d forwarded without include_usage: %s", i+1, r.Body)
		}
	}
	checkTotals(t, b, fake.TotalUsage(), 3)
}

// TestGatewayUsageOllama serves Ollama's native API by hand: NDJSON when
// streaming (the default), one object otherwise.
func TestGatewayUsageOllama(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "generate") || r.Header.Get("X-Test-Stream") == "no" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, `{"model":"qwen3","created_at":"2025-01-01T00:00:00Z","response":"hi","done":true,"prompt_eval_count":12,"eval_count":4}`)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, `{"model":"qwen3","message":{"role":"assistant","content":"h"},"done":false}`+"\n")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, `{"model":"qwen3","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":9}`+"\n")
	}))
	defer up.Close()
	ev := &events{}
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindOllama, BaseURL: up.URL, Model: "qwen3"}, llm.Options{LookupEnv: noEnv, OnRequest: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	b := &box{gw: gw, url: srv.URL, ev: ev}
	b.do(t, "POST", "/api/chat", nil, `{"messages":[{"role":"user","content":"hi"}]}`)
	b.do(t, "POST", "/api/generate", nil, `{"prompt":"hi","stream":false}`)
	got := gw.Usage()
	if got.Requests != 2 || got.InputTokens != 38 || got.OutputTokens != 13 || got.CostUSD != 0 || got.Unpriced != 0 {
		t.Fatalf("usage %+v", got)
	}
	evs := ev.list()
	if !evs[0].Streamed || evs[1].Streamed || evs[0].Model != "qwen3" {
		t.Fatalf("events %+v", evs)
	}
}

func TestGatewayUnknownModelIsFlagged(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("x").WithUsage(1000, 1000))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	b.do(t, "POST", "/v1/messages", nil, `{"model":"claude-unreleased-9","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	u := b.gw.Usage()
	if u.CostUSD != 0 || u.Unpriced != 1 || u.InputTokens != 1000 {
		t.Fatalf("usage %+v", u)
	}
	if ev := b.ev.list()[0]; ev.Priced {
		t.Fatalf("event %+v claims a price", ev)
	}
}

func TestGatewayDefaultPriceTable(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("x").WithUsage(1_000_000, 1_000_000))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	b.do(t, "POST", "/v1/messages", nil, `{"model":"claude-sonnet-4-5-20250929","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	if u := b.gw.Usage(); u.CostUSD != 18 {
		t.Fatalf("1M in + 1M out of a dated claude-sonnet-4-5 cost %v, want 18", u.CostUSD)
	}
}

func TestGatewayMalformedStreamIsCountedAsFarAsRead(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.MalformedSSE().WithUsage(33, 99), llmtest.StreamError("overloaded_error", "Overloaded").WithUsage(5, 5))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	for range 2 {
		if got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(true)); got.status != 200 {
			t.Fatalf("status %d", got.status)
		}
	}
	u := b.gw.Usage()
	want := fake.TotalUsage() // message_start only: input counts, output 1
	if u.InputTokens != int64(want.Input) || u.OutputTokens != int64(want.Output) || want.Output != 2 {
		t.Fatalf("usage %+v, provider reported %+v", u, want)
	}
	if ev := b.ev.list()[1]; ev.Error != "provider stream error: overloaded_error" {
		t.Fatalf("event error %q", ev.Error)
	}
}
