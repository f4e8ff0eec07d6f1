package llm_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// BenchmarkStream measures a streamed answer of ~340 SSE events read
// directly from the fake provider and through the gateway, to show the
// gateway's per-request overhead (parsing, metering, per-read flushes).
func BenchmarkStream(b *testing.B) {
	text := strings.Repeat("lorem ipsum ", 340) // ~340 text_delta events
	run := func(b *testing.B, url string, fake *llmtest.Server) {
		for range b.N {
			fake.Push(llmtest.Text(text))
		}
		b.ResetTimer()
		for range b.N {
			req, _ := http.NewRequest("POST", url+"/v1/messages", strings.NewReader(guestAnthropic(true)))
			req.Header.Set("X-Api-Key", canary)
			req.Header.Set("Anthropic-Version", "2023-06-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			b.SetBytes(n)
		}
	}
	b.Run("direct", func(b *testing.B) {
		fake := llmtest.NewAnthropic(b)
		run(b, fake.URL, fake)
	})
	b.Run("gateway", func(b *testing.B) {
		fake := llmtest.NewAnthropic(b)
		gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindAnthropic, BaseURL: fake.URL, APIKey: canary}, llm.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := newServer(b, gw)
		run(b, srv, fake)
	})
}
