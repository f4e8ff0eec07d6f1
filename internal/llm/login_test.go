package llm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
)

// tokens is a TokenSource handing out a sequence of tokens (a refresh
// between requests) or an error.
type tokens struct {
	mu   sync.Mutex
	list []string
	err  error
}

func (s *tokens) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	tok := s.list[0]
	if len(s.list) > 1 {
		s.list = s.list[1:]
	}
	return tok, nil
}

// upstream records each request's headers and answers with fn.
type upstream struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (u *upstream) start(t *testing.T, fn http.HandlerFunc) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(context.Background()))
		u.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func anthropicOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"id":"m","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":3,"output_tokens":1}}`))
}

// TestClaudePersonalBearer: a login provider sends the current token as a
// bearer with Anthropic's OAuth beta flag, asks for it on every request (a
// refreshed token is used at once), drops the guest's credentials, and
// scrubs the token from what the provider sends back.
func TestClaudePersonalBearer(t *testing.T) {
	up := &upstream{}
	url := up.start(t, func(w http.ResponseWriter, r *http.Request) {
		if len(up.seen) == 2 {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"bad token ` + r.Header.Get("Authorization") + `"}}`))
			return
		}
		anthropicOK(w, r)
	})
	src := &tokens{list: []string{"sk-ant-oat-ONE", "sk-ant-oat-TWO"}}
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindClaudePersonal, BaseURL: url, Token: src}, llm.Options{LookupEnv: env(map[string]string{"ANTHROPIC_API_KEY": canary})})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{gw: gw, url: newServer(t, gw), ev: &events{}}
	guest := map[string]string{"X-Api-Key": "sk-ant-voidbox-placeholder", "Authorization": "Bearer guest", "Anthropic-Beta": "fine-grained-tool-streaming-2025-05-14"}
	if r := b.do(t, http.MethodPost, "/v1/messages", guest, guestAnthropic(false)); r.status != 200 {
		t.Fatalf("first request: %d %s", r.status, r.body)
	}
	r := b.do(t, http.MethodPost, "/v1/messages", guest, guestAnthropic(false))
	if r.status != http.StatusUnauthorized || strings.Contains(r.body, "TWO") || !strings.Contains(r.body, "[REDACTED]") {
		t.Fatalf("provider error reached the guest unscrubbed: %d %s", r.status, r.body)
	}
	for i, want := range []string{"Bearer sk-ant-oat-ONE", "Bearer sk-ant-oat-TWO"} {
		h := up.seen[i].Header
		if h.Get("Authorization") != want || h.Get("X-Api-Key") != "" {
			t.Errorf("request %d: Authorization %q X-Api-Key %q", i, h.Get("Authorization"), h.Get("X-Api-Key"))
		}
		if beta := strings.Join(h.Values("Anthropic-Beta"), ","); !strings.Contains(beta, "oauth-2025-04-20") || !strings.Contains(beta, "fine-grained-tool-streaming") {
			t.Errorf("request %d: anthropic-beta %q", i, beta)
		}
	}

	src.err = errors.New("no Claude login on this host: /home/u/.claude/.credentials.json does not exist")
	if r := b.do(t, http.MethodPost, "/v1/messages", guest, guestAnthropic(false)); r.status != http.StatusBadGateway || !strings.Contains(r.body, "login: no Claude login") {
		t.Fatalf("login failure: %d %s", r.status, r.body)
	}
	if len(up.seen) != 2 {
		t.Fatalf("a request without a login reached the provider")
	}
	if _, err := llm.NewGateway(llm.Provider{Kind: llm.KindClaudePersonal, Token: src, APIKeyEnv: "ANTHROPIC_API_KEY"}, llm.Options{}); err == nil {
		t.Fatal("claude-personal with an API key variable accepted")
	}
	if _, err := llm.NewGateway(llm.Provider{Kind: llm.KindOllama, Token: src}, llm.Options{}); err == nil {
		t.Fatal("a login token on another provider accepted")
	}
}

// TestLMStudio: OpenAI chat and Anthropic messages at LM Studio's server,
// its documented .../v1 base URL accepted, no key sent, free.
func TestLMStudio(t *testing.T) {
	up := &upstream{}
	url := up.start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/messages" {
			anthropicOK(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"c","object":"chat.completion","model":"qwen","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}`))
	})
	ev := &events{}
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindLMStudio, BaseURL: url + "/v1"}, llm.Options{OnRequest: ev.add, LookupEnv: env(map[string]string{"OPENAI_API_KEY": canary})})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{gw: gw, url: newServer(t, gw), ev: ev}
	for _, p := range []string{"/v1/chat/completions", "/v1/messages"} {
		body := guestOpenAI(false, "")
		if p == "/v1/messages" {
			body = guestAnthropic(false)
		}
		if r := b.do(t, http.MethodPost, p, map[string]string{"Authorization": "Bearer lm-studio"}, body); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	b.waitEvents(t, 2)
	for i, want := range []string{"/v1/chat/completions", "/v1/messages"} {
		if got := up.seen[i]; got.URL.Path != want || got.Header.Get("Authorization") != "" {
			t.Errorf("upstream request %d: %s auth %q", i, got.URL.Path, got.Header.Get("Authorization"))
		}
	}
	if u := gw.Usage(); u.Requests != 2 || u.CostUSD != 0 || u.Unpriced != 0 {
		t.Errorf("usage %+v", u)
	}
}

// accountTokens is a TokenSource that also names an account.
type accountTokens struct {
	tokens
	account string
}

func (s *accountTokens) Account() string { return s.account }

// TestChatGPTLogin: the chatgpt provider sends the login's access token and
// account to ChatGPT's Codex backend in place of the guest's placeholders,
// allows only its Responses route and model list, and refuses a login
// source that names no account.
func TestChatGPTLogin(t *testing.T) {
	up := &upstream{}
	url := up.start(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/backend-api/codex/models" {
			w.Write([]byte(`{"models":[]}`))
			return
		}
		w.Write([]byte(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-5-codex","output":[],"usage":{"input_tokens":7,"output_tokens":2,"total_tokens":9}}`))
	})
	src := &accountTokens{tokens: tokens{list: []string{"chatgpt-access-REAL"}}, account: "acct-REAL"}
	ev := &events{}
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindChatGPT, BaseURL: url + "/backend-api/codex", Token: src},
		llm.Options{OnRequest: ev.add, LookupEnv: env(map[string]string{"OPENAI_API_KEY": canary})})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{gw: gw, url: newServer(t, gw), ev: ev}
	guest := map[string]string{"Authorization": "Bearer placeholder.jwt.x", "ChatGPT-Account-Id": "acct-placeholder", "Originator": "codex_exec"}
	if r := b.do(t, http.MethodPost, "/responses", guest, `{"model":"gpt-5-codex","input":"hi","stream":false}`); r.status != 200 {
		t.Fatalf("responses: %d %s", r.status, r.body)
	}
	if r := b.do(t, http.MethodGet, "/models", guest, ""); r.status != 200 {
		t.Fatalf("models: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/v1/responses", "/backend-api/ps/mcp", "/oauth/token"} {
		if r := b.do(t, http.MethodPost, p, guest, `{}`); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404 (not an allowed endpoint)", p, r.status)
		}
	}
	if len(up.seen) != 2 {
		t.Fatalf("%d requests reached the backend, want 2", len(up.seen))
	}
	for i, want := range []string{"/backend-api/codex/responses", "/backend-api/codex/models"} {
		h := up.seen[i].Header
		if up.seen[i].URL.Path != want || h.Get("Authorization") != "Bearer chatgpt-access-REAL" || h.Values("Chatgpt-Account-Id")[0] != "acct-REAL" ||
			len(h.Values("Chatgpt-Account-Id")) != 1 || h.Get("Originator") != "codex_exec" {
			t.Errorf("request %d: %s %v", i, up.seen[i].URL.Path, h)
		}
	}
	b.waitEvents(t, 5)
	if _, err := llm.NewGateway(llm.Provider{Kind: llm.KindChatGPT, Token: &src.tokens}, llm.Options{}); err == nil || !strings.Contains(err.Error(), "names its account") {
		t.Fatalf("a login without an account: %v", err)
	}
	if _, err := llm.NewGateway(llm.Provider{Kind: llm.KindChatGPT}, llm.Options{}); err == nil || !strings.Contains(err.Error(), "ChatGPT login") {
		t.Fatalf("no login: %v", err)
	}
}
