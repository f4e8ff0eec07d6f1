package voidbox_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestCodexChatGPTLoginVM: a codex stage on a host with no OpenAI API key
// but a `codex login` ChatGPT login. The expired login is refreshed on the
// host (once, at a fake token endpoint) and written back; the real Codex
// CLI in the VM runs in its ChatGPT mode against a fake of ChatGPT's Codex
// backend through the gateway, which sends the host's access token and
// account; the guest holds only placeholders, and its probe finds neither
// the host's tokens nor its refresh token anywhere in the VM.
func TestCodexChatGPTLoginVM(t *testing.T) {
	vmtest.CodexImage(t)
	const mark = "zq9canary" // in every real token; the probe assembles it at run time
	tok := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + ".sig-" + mark
	}
	auth := map[string]any{"chatgpt_account_id": "acct-host-1"}
	oldAccess := tok(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "https://api.openai.com/auth": auth})
	newAccess := tok(map[string]any{"exp": time.Now().Add(240 * time.Hour).Unix(), "https://api.openai.com/auth": auth})
	newRefresh := "rt-new-" + mark
	var refreshes atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		var req map[string]string
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &req) != nil || req["refresh_token"] != "rt-old-"+mark {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q}`, newAccess, newRefresh)
	}))
	defer tokens.Close()
	home := t.TempDir()
	authFile := filepath.Join(home, "auth.json")
	if err := os.WriteFile(authFile, fmt.Appendf(nil, `{"OPENAI_API_KEY":null,"tokens":{"id_token":%q,"access_token":%q,"refresh_token":"rt-old-%s","account_id":"acct-host-1"},"last_refresh":"2026-11-20T08:00:00Z"}`,
		tok(map[string]any{"email": "user@example.com", "https://api.openai.com/auth": auth}), oldAccess, mark), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CODEX_HOME", home)
	t.Setenv("VOIDBOX_CODEX_TOKEN_URL", tokens.URL+"/oauth/token")
	t.Setenv("OPENAI_API_KEY", "")

	probe := `echo hi-from-chatgpt > /workspace/output.json; p=zq9; printf '%s' "${p}canary" > /tmp/pat; ` +
		`{ env; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < $f; echo; done; } > /tmp/envdump 2>/dev/null; ` +
		`echo "probe env_hits=$(grep -c -F -f /tmp/pat /tmp/envdump)` +
		` proc_hits=$(grep -l -F -f /tmp/pat /proc/[0-9]*/cmdline 2>/dev/null | wc -l)` +
		` file_hits=$(grep -rl -F -f /tmp/pat / --exclude-dir=proc --exclude-dir=sys --exclude-dir=opt 2>/dev/null | grep -v -x /tmp/pat | wc -l)` +
		` placeholder=$(grep -c voidbox-placeholder-account $HOME/.codex/auth.json) end"`
	var reported string
	srv := llmtest.NewChatGPT(t,
		llmtest.Reply("Writing the file.", llmtest.Call{Name: "exec_command", Input: map[string]any{"cmd": probe}}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			if res := r.ToolResults(); len(res) == 1 {
				reported = res[0].Content
			}
			return llmtest.Text("done")
		}),
	)
	srv.RequireKey(newAccess)
	srv.RequireAccount("acct-host-1")
	box := voidbox.NewBox("codex").Prompt("write hi to the output file").Runtime(voidbox.RuntimeCodex).
		LLM(voidbox.LLM{Provider: "codex", BaseURL: srv.URL + "/backend-api/codex"})
	rep, err := voidbox.NewPipeline("codex-login").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if strings.TrimSpace(string(rep.Output)) != "hi-from-chatgpt" {
		t.Fatalf("output %q", rep.Output)
	}
	m := regexp.MustCompile(`probe env_hits=(\d+) proc_hits=(\d+) file_hits=(\d+) placeholder=(\d+) end`).FindStringSubmatch(reported)
	if m == nil {
		t.Fatalf("the probe did not report:\n%s", reported)
	}
	if m[1] != "0" || m[2] != "0" || m[3] != "0" || strings.Contains(reported, mark) {
		t.Fatalf("the host's login is visible in the guest: %s", m[0])
	}
	if m[4] == "0" {
		t.Fatalf("the guest's Codex did not hold the placeholder login: %s", m[0])
	}
	var responses int
	for _, r := range srv.Requests() {
		if r.Path == "/backend-api/codex/responses" {
			responses++
		}
	}
	if responses != 2 || refreshes.Load() != 1 {
		t.Fatalf("%d responses requests, %d refreshes", responses, refreshes.Load())
	}
	b, err := os.ReadFile(authFile)
	if err != nil || !strings.Contains(string(b), newRefresh) || strings.Contains(string(b), "rt-old-") {
		t.Fatalf("the refreshed login was not written back: %v\n%s", err, b)
	}
	if b, _ := json.Marshal(rep); strings.Contains(string(b), mark) {
		t.Fatal("the host's login leaked into the report")
	}
}
