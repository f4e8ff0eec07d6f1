package codexauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/codexauth"
)

// jwt is an unsigned token with claims, as the tests need no signature.
func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

const oldRefresh, newRefresh = "rt-OLD-canary-71c", "rt-NEW-canary-2e9"

func writeAuth(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func TestOpenKinds(t *testing.T) {
	key := writeAuth(t, `{"OPENAI_API_KEY":"sk-from-codex-login","tokens":null}`)
	l, err := codexauth.Open(codexauth.Options{Path: key, LookupEnv: noEnv})
	if err != nil || l.ChatGPT != nil || l.APIKey != "sk-from-codex-login" || l.Path != key {
		t.Fatalf("API key login: %+v %v", l, err)
	}

	id := jwt(map[string]any{"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-from-id-token"}})
	access := jwt(map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
	both := writeAuth(t, fmt.Sprintf(`{"OPENAI_API_KEY":"sk-x","tokens":{"id_token":%q,"access_token":%q,"refresh_token":%q}}`, id, access, oldRefresh))
	l, err = codexauth.Open(codexauth.Options{Path: both, LookupEnv: noEnv})
	if err != nil || l.ChatGPT == nil {
		t.Fatalf("ChatGPT login: %+v %v", l, err)
	}
	if tok, err := l.ChatGPT.Token(context.Background()); tok != access || err != nil || l.ChatGPT.Account() != "acct-from-id-token" {
		t.Fatalf("token %q %v, account %q", tok, err, l.ChatGPT.Account())
	}

	for body, want := range map[string]string{
		`[]`: "not a JSON object",
		`{"tokens":{"access_token":"` + access + `"`: "not a JSON object",
		`{"tokens":"x"}`:                      `"tokens" is not an object`,
		`{"tokens":{"access_token":7}}`:       "must be strings",
		`{"tokens":{"refresh_token":"r"}}`:    "access_token is missing",
		`{"OPENAI_API_KEY":null}`:             "neither a ChatGPT login",
		`{"OPENAI_API_KEY":["sk"]}`:           "string or null",
		`{"OPENAI_API_KEY":null,"tokens":{}}`: "access_token is missing",
	} {
		p := writeAuth(t, body)
		_, err := codexauth.Open(codexauth.Options{Path: p, LookupEnv: noEnv})
		if !errors.Is(err, codexauth.ErrCorrupt) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), access) {
			t.Errorf("%s: %v", body, err)
		}
	}

	home := filepath.Join(t.TempDir(), "nothing")
	_, err = codexauth.Open(codexauth.Options{LookupEnv: func(k string) (string, bool) { return home, k == codexauth.HomeEnv }})
	if !errors.Is(err, codexauth.ErrNoLogin) || !strings.Contains(err.Error(), filepath.Join(home, "auth.json")) || !strings.Contains(err.Error(), "codex login") {
		t.Fatalf("no login: %v", err)
	}
	if _, err := codexauth.Open(codexauth.Options{Path: both, LookupEnv: noEnv, TokenURL: "http://auth.example.com/oauth/token"}); err == nil || !strings.Contains(err.Error(), "want https") {
		t.Fatalf("clear-text token URL: %v", err)
	}
}

// TestChatGPTRefreshedOnce: an expired ChatGPT login asked for by five
// stages at once is refreshed once, with Codex's client id, and written
// back atomically with every other member of the file kept.
func TestChatGPTRefreshedOnce(t *testing.T) {
	var calls atomic.Int32
	newAccess := jwt(map[string]any{"exp": time.Now().Add(10 * 24 * time.Hour).Unix(), "n": "NEW-canary"})
	newID := jwt(map[string]any{"email": "u@example.com", "https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-1"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req map[string]string
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if json.Unmarshal(b, &req) != nil || req["grant_type"] != "refresh_token" || req["client_id"] != "app_EMoamEEZ73f0CkXaXp7hrann" || req["scope"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		time.Sleep(100 * time.Millisecond)
		if req["refresh_token"] != oldRefresh || calls.Load() > 1 {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"refresh token already used","code":"refresh_token_reused"}}`))
			return
		}
		fmt.Fprintf(w, `{"id_token":%q,"access_token":%q,"refresh_token":%q}`, newID, newAccess, newRefresh)
	}))
	defer srv.Close()

	oldAccess := jwt(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "n": "OLD-canary"})
	path := writeAuth(t, fmt.Sprintf(`{"OPENAI_API_KEY":null,"tokens":{"id_token":"x.y.z","access_token":%q,"refresh_token":%q,"account_id":"acct-1"},"last_refresh":"2026-11-01T00:00:00Z","agent_identity":{"kept":true}}`,
		oldAccess, oldRefresh))
	l, err := codexauth.Open(codexauth.Options{Path: path, LookupEnv: noEnv, TokenURL: srv.URL + "/oauth/token"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	toks := make([]string, 5)
	errs := make([]error, 5)
	for i := range toks {
		wg.Go(func() { toks[i], errs[i] = l.ChatGPT.Token(context.Background()) })
	}
	wg.Wait()
	for i := range toks {
		if toks[i] != newAccess || errs[i] != nil {
			t.Fatalf("stage %d: %v", i, errs[i])
		}
	}
	if calls.Load() != 1 || l.ChatGPT.Account() != "acct-1" {
		t.Fatalf("%d refreshes, account %q", calls.Load(), l.ChatGPT.Account())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten file: %v %v", fi.Mode(), err)
	}
	var f struct {
		Key    *string           `json:"OPENAI_API_KEY"`
		Tokens map[string]string `json:"tokens"`
		Last   string            `json:"last_refresh"`
		Agent  map[string]bool   `json:"agent_identity"`
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Key != nil || f.Tokens["access_token"] != newAccess || f.Tokens["refresh_token"] != newRefresh || f.Tokens["id_token"] != newID ||
		f.Tokens["account_id"] != "acct-1" || f.Last == "2026-11-01T00:00:00Z" || !f.Agent["kept"] {
		t.Fatalf("written back:\n%s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".auth.json-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	// The spent refresh token again (another host refreshed it): the error
	// says why, without a token.
	os.WriteFile(path, []byte(fmt.Sprintf(`{"tokens":{"access_token":%q,"refresh_token":%q}}`, oldAccess, oldRefresh)), 0o600)
	l, err = codexauth.Open(codexauth.Options{Path: path, LookupEnv: noEnv, TokenURL: srv.URL + "/oauth/token"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.ChatGPT.Token(context.Background())
	if !errors.Is(err, codexauth.ErrRefresh) || !strings.Contains(err.Error(), "refresh_token_reused") || !strings.Contains(err.Error(), "codex login") ||
		strings.Contains(err.Error(), "canary") {
		t.Fatalf("refused refresh: %v", err)
	}
}
