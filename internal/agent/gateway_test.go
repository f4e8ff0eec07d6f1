package agent_test

import (
	"net/http/httptest"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestThroughTheGateway runs the agent against the host gateway in front of
// a fake provider, as in a box: the agent presents the placeholder, the
// provider only ever sees the host's key, and both count the same tokens.
func TestThroughTheGateway(t *testing.T) {
	kinds := map[string]llm.Kind{"anthropic": llm.KindAnthropic, "openai": llm.KindOpenAI}
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.ToolCall("bash", map[string]any{"command": "echo via gateway"}).WithUsage(50, 10),
			llmtest.Text("done").WithUsage(70, 2),
		)
		srv.RequireKey("sk-host-only")
		gw, err := llm.NewGateway(llm.Provider{Kind: kinds[string(fk.provider)], BaseURL: srv.URL, APIKey: "sk-host-only"}, llm.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gw.Close() })
		front := httptest.NewServer(gw)
		t.Cleanup(front.Close)

		cfg := baseConfig(t, fk.provider, srv)
		cfg.BaseURL = front.URL
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		if seen := srv.AuthSeen(); len(seen) != 1 || seen[0] != "sk-host-only" {
			t.Errorf("provider saw credentials %v", seen)
		}
		for _, r := range srv.Requests() {
			if r.Invalid != "" {
				t.Errorf("request %d rejected: %s", r.N, r.Invalid)
			}
		}
		// The client stops reading at the end of the stream, a moment before
		// the gateway's handler records the request: wait for the handlers.
		front.Close()
		fin, u := o.finished(), gw.Usage()
		if fin.InputTokens != 120 || fin.OutputTokens != 12 || u.Requests != 2 || u.InputTokens != 120 || u.OutputTokens != 12 {
			t.Errorf("agent counted %d/%d tokens, gateway %+v", fin.InputTokens, fin.OutputTokens, u)
		}
	})
}
