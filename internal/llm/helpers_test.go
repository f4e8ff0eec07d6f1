package llm_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
)

// canary is the host's provider key in every test; no guest-visible byte,
// error or event may contain it.
const canary = "sk-ant-CANARY-d41d8cd98f00b204e980"

// events collects OnRequest calls.
type events struct {
	mu  sync.Mutex
	all []llm.RequestEvent
}

func (e *events) add(ev llm.RequestEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []llm.RequestEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]llm.RequestEvent(nil), e.all...)
}

// box is a gateway served over HTTP the way the tunnel serves it.
type box struct {
	gw  *llm.Gateway
	url string
	ev  *events
}

// newBox starts a gateway for kind at upstream with the canary key.
func newBox(t *testing.T, kind llm.Kind, upstream string, opts llm.Options) *box {
	t.Helper()
	ev := &events{}
	opts.OnRequest = ev.add
	gw, err := llm.NewGateway(llm.Provider{Kind: kind, BaseURL: upstream, APIKey: canary}, opts)
	if err != nil {
		t.Fatalf("NewGateway: %v", err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		srv.Close()
		gw.Close()
	})
	return &box{gw: gw, url: srv.URL, ev: ev}
}

// response is what the guest got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a guest request to the gateway.
func (b *box) do(t *testing.T, method, path string, hdr map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(got)}
}

// guestAnthropic is a minimal valid Messages request.
func guestAnthropic(stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":` + s + `,"messages":[{"role":"user","content":"hi"}]}`
}

func guestOpenAI(stream bool, extra string) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"gpt-4o-mini","stream":` + s + extra + `,"messages":[{"role":"user","content":"hi"}]}`
}
