package voidbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestClaudeLoginIsolationVM is TestKeyIsolationVM for provider
// claude-personal: the host holds an expired Claude login (canary access
// and refresh tokens); the gateway refreshes it on the host against a fake
// OAuth endpoint, the provider receives the new bearer token, and the guest
// — which dumps its environment, every process's environ and searches its
// filesystem — holds none of the four tokens.
func TestClaudeLoginIsolationVM(t *testing.T) {
	const mark = "zq8canary" // in every token; the probe assembles it at run time
	oldAccess, oldRefresh := "sk-ant-oat01-"+mark+"-old-a", "sk-ant-ort01-"+mark+"-old-r"
	newAccess, newRefresh := "sk-ant-oat01-"+mark+"-new-a", "sk-ant-ort01-"+mark+"-new-r"
	var refreshes atomic.Int32
	oauth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		var req map[string]string
		if json.NewDecoder(r.Body).Decode(&req) != nil || req["refresh_token"] != oldRefresh {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"expires_in":3600}`, newAccess, newRefresh)
	}))
	defer oauth.Close()
	dir := t.TempDir()
	creds := filepath.Join(dir, ".credentials.json")
	os.WriteFile(creds, fmt.Appendf(nil, `{"claudeAiOauth":{"accessToken":%q,"refreshToken":%q,"expiresAt":%d}}`,
		oldAccess, oldRefresh, time.Now().Add(-time.Hour).UnixMilli()), 0o600)
	t.Setenv("CLAUDE_CONFIG_DIR", dir)
	t.Setenv("CLAUDE_CODE_OAUTH_TOKEN", "")
	t.Setenv("VOIDBOX_CLAUDE_TOKEN_URL", oauth.URL+"/v1/oauth/token")
	t.Setenv("ANTHROPIC_API_KEY", "")

	search := `p=zq8; p="${p}canary"; out=$({ ` +
		`echo "== env"; env; ` +
		`echo "== environ"; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < $f 2>/dev/null; done; ` +
		`echo "== files"; grep -rl "$p" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; ` +
		`echo "== procs"; grep -l "$p" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; } 2>&1); ` +
		`printf '%s\n' "$out"; echo "== end ${#out}"`
	var reported string
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": search}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if res := r.ToolResults(); len(res) > 0 {
				reported = res[0].Content
			}
			return llmtest.Text("reported")
		}),
	)
	box := voidbox.NewBox("snoop").Prompt("find the login").LLM(voidbox.LLM{Provider: "claude-personal", BaseURL: srv.URL})
	rep, err := voidbox.NewPipeline("login-isolation").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	body, length := probeReport(reported)
	if utf8.RuneCountInString(body) != length || !strings.Contains(body, "PATH=") || !strings.Contains(body, "\n== procs") {
		t.Fatalf("the guest's report is incomplete (%d of %d):\n%s", utf8.RuneCountInString(body), length, reported)
	}
	if strings.Contains(reported, mark) {
		t.Fatalf("a login token is visible in the guest:\n%s", reported)
	}
	if n := refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	for _, r := range srv.Requests() {
		if r.Auth != newAccess {
			t.Fatalf("the provider received %q, not the refreshed token", r.Auth)
		}
	}
	if b, _ := os.ReadFile(creds); !strings.Contains(string(b), newRefresh) {
		t.Fatalf("the refreshed login was not written back: %s", b)
	}
	if b, _ := json.Marshal(rep); strings.Contains(string(b), mark) {
		t.Fatal("a login token leaked into the report")
	}
}
