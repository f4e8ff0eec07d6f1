package llm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestKeyNeverLeaks runs every kind of outcome and searches everything the
// guest or a log could see for the key.
func TestKeyNeverLeaks(t *testing.T) {
	fake := llmtest.NewAnthropic(t,
		llmtest.Text("ok"),
		llmtest.ToolCall("bash", map[string]any{"command": "env"}),
		llmtest.Error(401, "authentication_error", "invalid x-api-key"),
		llmtest.MalformedSSE(),
	)
	fake.RequireKey(canary)
	// echo is a broken provider that repeats the key in its error body and headers.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("X-Api-Key")
		w.Header().Set("X-Debug", "key="+k)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","message":"bad key %s"}}`, k)
	}))
	defer echo.Close()

	var seen bytes.Buffer // everything observable
	record := func(r response) {
		fmt.Fprintf(&seen, "%d %v %s\n", r.status, r.header, r.body)
	}
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{MaxRequestBytes: 4096})
	record(b.do(t, "POST", "/v1/messages", map[string]string{"X-Api-Key": "guest"}, guestAnthropic(false)))
	record(b.do(t, "POST", "/v1/messages", nil, guestAnthropic(true)))
	record(b.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)))
	record(b.do(t, "POST", "/v1/messages", nil, guestAnthropic(true)))
	record(b.do(t, "POST", "/v1/nope", nil, "{}"))
	record(b.do(t, "POST", "/v1/messages", nil, strings.Repeat("x", 5000)))
	record(b.do(t, "POST", "/v1/messages", nil, "{bad"))

	e := newBox(t, llm.KindAnthropic, echo.URL, llm.Options{})
	echoed := e.do(t, "POST", "/v1/messages", nil, guestAnthropic(false))
	record(echoed)
	if echoed.status != 401 || !strings.Contains(echoed.body, "bad key [REDACTED]") || echoed.header.Get("X-Debug") != "key=[REDACTED]" {
		t.Fatalf("echoed key not scrubbed as expected: %d %v %s", echoed.status, echoed.header, echoed.body)
	}

	down := newBox(t, llm.KindAnthropic, closedURL(t), llm.Options{})
	record(down.do(t, "POST", "/v1/messages", nil, guestAnthropic(false)))

	for _, bx := range []*box{b, e, down} {
		for _, ev := range bx.ev.list() {
			fmt.Fprintf(&seen, "%v %+v %#v\n", ev, ev, ev)
		}
		fmt.Fprintf(&seen, "%+v\n", bx.gw.Usage())
		p := bx.gw.Provider()
		fmt.Fprintf(&seen, "%v %+v %#v %s %q %x\n", p, p, p, p.APIKey, p.APIKey, p.APIKey)
		j, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		seen.Write(j)
		slog.New(slog.NewJSONHandler(&seen, nil)).Info("provider", "p", p, "key", p.APIKey)
		slog.New(slog.NewTextHandler(&seen, nil)).Info("provider", "p", p, "key", p.APIKey)
	}
	_, err := llm.NewGateway(llm.Provider{Kind: llm.KindCustom, BaseURL: "ftp://" + canary + "@x/?q", APIKey: canary}, llm.Options{})
	if err == nil {
		t.Fatal("bad provider accepted")
	}
	seen.WriteString(err.Error())

	if strings.Contains(seen.String(), canary) {
		i := strings.Index(seen.String(), canary)
		t.Fatalf("key leaked: …%s…", seen.String()[max(0, i-200):i+len(canary)])
	}
	// The test means something only if the key did reach the provider.
	if got := fake.AuthSeen(); len(got) != 1 || got[0] != canary {
		t.Fatalf("provider saw %q", got)
	}
	if seen.Len() < 2000 {
		t.Fatalf("observed only %d bytes; the scenarios did not run", seen.Len())
	}
}
