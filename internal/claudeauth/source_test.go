package claudeauth_test

import (
	"context"
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

	"github.com/voidbox/voidbox/internal/claudeauth"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

const (
	oldAccess  = "sk-ant-oat01-OLD-canary-5d1f"
	oldRefresh = "sk-ant-ort01-OLD-canary-9a7e"
	newAccess  = "sk-ant-oat01-NEW-canary-c3b0"
	newRefresh = "sk-ant-ort01-NEW-canary-e82d"
)

// tokenEndpoint is a fake OAuth token endpoint: it accepts oldRefresh once
// (a refresh token is single-use), slowly, so concurrent refreshes overlap.
type tokenEndpoint struct {
	calls atomic.Int32
	url   string
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.calls.Add(1)
		var req map[string]string
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if json.Unmarshal(b, &req) != nil || req["grant_type"] != "refresh_token" || req["client_id"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		time.Sleep(100 * time.Millisecond)
		if req["refresh_token"] != oldRefresh || te.calls.Load() > 1 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refresh token %s already used"}`, req["refresh_token"])
			return
		}
		fmt.Fprintf(w, `{"token_type":"Bearer","access_token":%q,"refresh_token":%q,"expires_in":28800,"scope":"user:inference"}`, newAccess, newRefresh)
	}))
	t.Cleanup(srv.Close)
	te.url = srv.URL + "/v1/oauth/token"
	return te
}

// writeLogin writes a credentials file as Claude Code does, with a member
// voidbox does not know about and must keep.
func writeLogin(t *testing.T, expires time.Time) string {
	path := filepath.Join(t.TempDir(), ".credentials.json")
	body := fmt.Sprintf(`{"claudeAiOauth":{"accessToken":%q,"refreshToken":%q,"expiresAt":%d,"scopes":["user:inference","user:profile"],"subscriptionType":"max"},"mcpOAuth":{"srv":{"x":1}}}`,
		oldAccess, oldRefresh, expires.UnixMilli())
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) (string, bool) { return "", false }

func open(t *testing.T, path, tokenURL string) *claudeauth.Source {
	t.Helper()
	s, err := claudeauth.Open(claudeauth.Options{Path: path, TokenURL: tokenURL, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExpiredLoginRefreshedOnce: five concurrent model requests through the
// gateway, two Sources (as two voidbox processes) on one expired login: one
// refresh, every request carries the new token, the file holds the new
// tokens (0600) and everything else it held.
func TestExpiredLoginRefreshedOnce(t *testing.T) {
	te := newTokenEndpoint(t)
	path := writeLogin(t, time.Now().Add(-time.Hour))
	var script []llmtest.Turn
	for range 5 {
		script = append(script, llmtest.Text("ok"))
	}
	up := llmtest.NewAnthropic(t, script...)
	sources := []*claudeauth.Source{open(t, path, te.url), open(t, path, te.url)}
	var urls []string
	for _, src := range sources {
		gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindClaudePersonal, BaseURL: up.URL, Token: src}, llm.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Go(func() {
			body := `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
			resp, err := http.Post(urls[i%2]+"/v1/messages", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: %d %s", i, resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := te.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	reqs := up.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d upstream requests, want 5", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != newAccess || r.Status != 200 {
			t.Errorf("upstream saw %q (%d), want the refreshed token", r.Auth, r.Status)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file after write-back: %v %v", fi.Mode(), err)
	}
	var got struct {
		OAuth struct {
			AccessToken, RefreshToken, SubscriptionType string
			ExpiresAt                                   int64
			Scopes                                      []string
		} `json:"claudeAiOauth"`
		MCP map[string]any `json:"mcpOAuth"`
	}
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	o := got.OAuth
	if o.AccessToken != newAccess || o.RefreshToken != newRefresh || o.SubscriptionType != "max" || len(o.Scopes) != 2 || got.MCP["srv"] == nil {
		t.Fatalf("write-back lost or kept the wrong fields: %s", b)
	}
	if exp := time.UnixMilli(o.ExpiresAt); time.Until(exp) < 7*time.Hour {
		t.Fatalf("expiresAt %v", exp)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".credentials-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// A fresh login is used as it is.
	if tok, err := open(t, path, te.url).Token(context.Background()); err != nil || tok != newAccess || te.calls.Load() != 1 {
		t.Fatalf("fresh login: %v, %d refreshes", err, te.calls.Load())
	}
}

func TestLoginErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, ".credentials.json")
	os.WriteFile(corrupt, []byte(`{"claudeAiOauth":{"accessToken":"`+oldAccess+`", "refreshToken": `), 0o600)
	_, err := claudeauth.Open(claudeauth.Options{Path: corrupt, LookupEnv: noEnv})
	if !errors.Is(err, claudeauth.ErrCorrupt) || !strings.Contains(err.Error(), corrupt) || strings.Contains(err.Error(), oldAccess) {
		t.Fatalf("corrupt file: %v", err)
	}
	for body, want := range map[string]string{
		`[]`:                                  "not a JSON object",
		`{"other":{}}`:                        `no "claudeAiOauth" member`,
		`{"claudeAiOauth":{"accessToken":7}}`: "must be strings",
		`{"claudeAiOauth":{}}`:                "accessToken is missing",
	} {
		os.WriteFile(corrupt, []byte(body), 0o600)
		if _, err := claudeauth.Open(claudeauth.Options{Path: corrupt, LookupEnv: noEnv}); !errors.Is(err, claudeauth.ErrCorrupt) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), corrupt) {
			t.Errorf("%s: %v", body, err)
		}
	}

	// No file: the default location under CLAUDE_CONFIG_DIR, named.
	lookup := func(k string) (string, bool) {
		if k == claudeauth.ConfigDirEnv {
			return filepath.Join(dir, "nothing"), true
		}
		return "", false
	}
	_, err = claudeauth.Open(claudeauth.Options{LookupEnv: lookup})
	if !errors.Is(err, claudeauth.ErrNoLogin) || !strings.Contains(err.Error(), filepath.Join(dir, "nothing", ".credentials.json")) || !strings.Contains(err.Error(), claudeauth.TokenEnv) {
		t.Fatalf("missing file: %v", err)
	}

	// CLAUDE_CODE_OAUTH_TOKEN wins and is never refreshed.
	env := func(k string) (string, bool) {
		if k == claudeauth.TokenEnv {
			return "sk-ant-oat01-LONG", true
		}
		return lookup(k)
	}
	src, err := claudeauth.Open(claudeauth.Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := src.Token(context.Background()); tok != "sk-ant-oat01-LONG" || err != nil || src.Where() != "$"+claudeauth.TokenEnv {
		t.Fatalf("env token: %q %v %s", tok, err, src.Where())
	}

	// A refused refresh says why, without a token; a token that has not
	// quite expired is still tried.
	te := newTokenEndpoint(t)
	te.calls.Store(5) // the refresh token was already spent
	expired := writeLogin(t, time.Now().Add(-time.Minute))
	_, err = open(t, expired, te.url).Token(context.Background())
	if !errors.Is(err, claudeauth.ErrRefresh) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "log in again") ||
		!strings.Contains(err.Error(), expired) || strings.Contains(err.Error(), "canary") {
		t.Fatalf("refused refresh: %v", err)
	}
	soon := writeLogin(t, time.Now().Add(30*time.Second))
	if tok, err := open(t, soon, te.url).Token(context.Background()); tok != oldAccess || err != nil {
		t.Fatalf("expiring token on a failed refresh: %q %v", tok, err)
	}

	if _, err := claudeauth.Open(claudeauth.Options{Path: soon, TokenURL: "http://auth.example.com/token", LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), "want https") {
		t.Fatalf("clear-text token URL: %v", err)
	}
}
