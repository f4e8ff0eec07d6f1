package claudecode

import (
	"net/http/httptest"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestRealRunThroughLLMGateway puts the host-side gateway of internal/llm
// between claude-code and the fake: the guest holds the placeholder, the
// provider sees only the real key, and the gateway's own token count
// agrees with what claude-code reports.
func TestRealRunThroughLLMGateway(t *testing.T) {
	im := realImage(t)
	const realKey = "sk-ant-REAL-host-only-7f3a"
	fake := llmtest.NewAnthropic(t,
		llmtest.ToolCall("Bash", map[string]any{"command": "echo via-gateway", "description": "x"}).WithUsage(800, 12),
		llmtest.Text("ok").WithUsage(900, 3),
	)
	fake.RequireKey(realKey)
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindAnthropic, BaseURL: fake.URL, APIKey: llm.Secret(realKey)}, llm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	host := httptest.NewServer(gw)
	t.Cleanup(host.Close)
	r := runReal(t, im, host.URL, Config{Prompt: "say ok"}, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkOnlyBaseURL(t, r, 2)
	if seen := fake.AuthSeen(); len(seen) != 1 || seen[0] != realKey {
		t.Errorf("the provider saw credentials %q, want only the real key", seen)
	}
	host.Close() // wait for the gateway's handlers: they record usage as they return
	u := gw.Usage()
	fin := r.res.Finished
	if u.Requests != 2 || u.InputTokens != 1700 || u.OutputTokens != 15 || fin.InputTokens != u.InputTokens || fin.OutputTokens != u.OutputTokens {
		t.Errorf("gateway usage %+v, claude-code reported %d in / %d out", u, fin.InputTokens, fin.OutputTokens)
	}
}
