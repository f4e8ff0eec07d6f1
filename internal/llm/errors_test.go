package llm_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func TestGatewayPassesProviderErrors(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Error(529, "overloaded_error", "Overloaded"), llmtest.Error(429, "rate_limit_error", "slow"))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	for _, want := range []struct {
		status int
		typ    string
	}{{529, "overloaded_error"}, {429, "rate_limit_error"}} {
		got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(true))
		if got.status != want.status || !strings.Contains(got.body, `"type":"`+want.typ+`"`) {
			t.Fatalf("got %d %s, want %d %s", got.status, got.body, want.status, want.typ)
		}
		if got.header.Get("Request-Id") == "" {
			t.Error("provider's request-id header lost")
		}
	}
	// The provider's own 400 (here: a client bug the fake catches) passes through.
	got := b.do(t, "POST", "/v1/messages", nil, `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`)
	if got.status != 400 || !strings.Contains(got.body, "max_tokens: Field required") {
		t.Fatalf("got %d %s", got.status, got.body)
	}
	evs := b.ev.list()
	if evs[0].Status != 529 || evs[0].Error != "provider returned 529 (overloaded_error)" || !evs[0].Forwarded {
		t.Fatalf("event %+v", evs[0])
	}
	if u := b.gw.Usage(); u.Requests != 3 || u.InputTokens != 0 {
		t.Fatalf("usage %+v", u)
	}
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestGatewayUpstreamDown(t *testing.T) {
	cases := []struct {
		kind llm.Kind
		path string
		body string
		msg  func(string) (string, error)
	}{
		{llm.KindAnthropic, "/v1/messages", guestAnthropic(false), func(b string) (string, error) {
			var e struct {
				Type  string
				Error struct{ Type, Message string }
			}
			err := json.Unmarshal([]byte(b), &e)
			if e.Type != "error" || e.Error.Type != "api_error" {
				return "", errors.New("not an anthropic api_error")
			}
			return e.Error.Message, err
		}},
		{llm.KindOpenAI, "/v1/chat/completions", guestOpenAI(true, ""), func(b string) (string, error) {
			var e struct{ Error struct{ Type, Message string } }
			err := json.Unmarshal([]byte(b), &e)
			if e.Error.Type != "server_error" {
				return "", errors.New("not an openai server_error")
			}
			return e.Error.Message, err
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			down := closedURL(t)
			b := newBox(t, tc.kind, down, llm.Options{})
			got := b.do(t, "POST", tc.path, nil, tc.body)
			if got.status != http.StatusBadGateway {
				t.Fatalf("status %d", got.status)
			}
			msg, err := tc.msg(got.body)
			if err != nil {
				t.Fatalf("body %s: %v", got.body, err)
			}
			if !strings.Contains(msg, "connection refused") || !strings.Contains(msg, down) {
				t.Fatalf("message %q does not say what failed", msg)
			}
			ev := b.ev.list()[0]
			if ev.Status != 502 || !strings.Contains(ev.Error, "connection refused") || !ev.Forwarded {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func TestGatewayBodyCap(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("fits"))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{MaxRequestBytes: 1024})
	big := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("a", 2000) + `"}]}`
	got := b.do(t, "POST", "/v1/messages", nil, big)
	if got.status != http.StatusRequestEntityTooLarge || !strings.Contains(got.body, `"type":"request_too_large"`) {
		t.Fatalf("got %d %s", got.status, got.body)
	}
	if got := b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)); got.status != 200 {
		t.Fatalf("small body: %d", got.status)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("provider saw %d requests, want only the small one", n)
	}
	if u := b.gw.Usage(); u.Requests != 1 {
		t.Fatalf("refused request counted: %+v", u)
	}
}

func TestGatewayRejectsBadBodies(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{})
	for _, body := range []string{
		`not json`,
		`[1,2]`,
		`{"model":"gpt-4o"} {"model":"x"}`,
		`{"model":"gpt-4o","model":"o3","messages":[]}`,
		`{"model":42,"messages":[]}`,
		`{"model":"gpt-4o","stream":"yes"}`,
		`{"model":"gpt-4o","stream":true,"stream_options":[1]}`,
		`{"model":"gpt-4o"`,
		``,
	} {
		got := b.do(t, "POST", "/v1/chat/completions", nil, body)
		if got.status != 400 || !strings.Contains(got.body, `"type":"invalid_request_error"`) {
			t.Errorf("%q: got %d %s", body, got.status, got.body)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("provider saw %d bad requests", n)
	}
}

func TestGatewayDefaultModel(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("a"), llmtest.Text("b"))
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindAnthropic, BaseURL: fake.URL, APIKey: canary, Model: "claude-haiku-4-5"}, llm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	b := &box{gw: gw, url: srv.URL}
	b.do(t, "POST", "/v1/messages", nil, `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	b.do(t, "POST", "/v1/messages", nil, `{"model":"claude-opus-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	reqs := fake.Requests()
	if reqs[0].Model != "claude-haiku-4-5" || reqs[1].Model != "claude-opus-4-5" {
		t.Fatalf("models forwarded: %q, %q", reqs[0].Model, reqs[1].Model)
	}
	// The rest of the body is forwarded as sent, in order.
	if string(reqs[1].Body) != `{"model":"claude-opus-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}` {
		t.Fatalf("body changed: %s", reqs[1].Body)
	}
}
