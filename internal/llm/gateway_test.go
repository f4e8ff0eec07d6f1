package llm_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func TestGatewayAddsKeyAndStripsGuestCredentials(t *testing.T) {
	fake := llmtest.NewAnthropic(t, llmtest.Text("hi"), llmtest.Text("again"))
	fake.RequireKey(canary)
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	guest := map[string]string{
		"X-Api-Key":           "sk-guest-forged",
		"Authorization":       "Bearer sk-guest-forged",
		"Cookie":              "session=abc",
		"Proxy-Authorization": "Basic Zm9vOmJhcg==",
		"X-Upstream-Token":    "t",
		"X-Client-Secret":     "s",
		"Anthropic-Api-Key":   "k",
		"X-Forwarded-Host":    "evil.example",
		"Forwarded":           "host=evil.example",
		"Connection":          "X-Drop-Me",
		"X-Drop-Me":           "1",
		"Anthropic-Beta":      "tools-2024-04-04",
		"User-Agent":          "guest-agent/1.0",
	}
	got := b.do(t, "POST", "/v1/messages", guest, guestAnthropic(false))
	if got.status != 200 {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	req := fake.Requests()[0]
	if req.Auth != canary {
		t.Fatalf("provider saw credential %q, want the host key", req.Auth)
	}
	for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Upstream-Token", "X-Client-Secret",
		"Anthropic-Api-Key", "X-Forwarded-Host", "Forwarded", "X-Drop-Me"} {
		if v := req.Header.Values(h); len(v) > 0 {
			t.Errorf("guest header %s reached the provider: %q", h, v)
		}
	}
	if v := req.Header.Values("X-Api-Key"); len(v) != 1 || v[0] != canary {
		t.Errorf("x-api-key = %q", v)
	}
	if req.Header.Get("Anthropic-Beta") != "tools-2024-04-04" || req.Header.Get("User-Agent") != "guest-agent/1.0" {
		t.Errorf("harmless headers lost: %v", req.Header)
	}
	if req.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("anthropic-version = %q, want the default", req.Header.Get("Anthropic-Version"))
	}
	// A version the client chose is kept.
	b.do(t, "POST", "/v1/messages", map[string]string{"Anthropic-Version": "2024-01-01"}, guestAnthropic(false))
	if v := fake.Requests()[1].Header.Get("Anthropic-Version"); v != "2024-01-01" {
		t.Errorf("client's anthropic-version replaced by %q", v)
	}
}

func TestGatewayOpenAIBearer(t *testing.T) {
	fake := llmtest.NewOpenAI(t, llmtest.Text("hi"))
	fake.RequireKey(canary)
	b := newBox(t, llm.KindOpenAI, fake.URL, llm.Options{})
	got := b.do(t, "POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer guest", "OpenAI-Organization": "org-guest"}, guestOpenAI(false, ""))
	if got.status != 200 {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	req := fake.Requests()[0]
	if req.Header.Get("Authorization") != "Bearer "+canary || req.Header.Get("OpenAI-Organization") != "" {
		t.Fatalf("auth %q org %q", fake.AuthSeen(), req.Header.Get("OpenAI-Organization"))
	}
	if got := b.do(t, "GET", "/v1/models", nil, ""); got.status != 200 || !strings.Contains(got.body, `"object":"list"`) {
		t.Fatalf("models: %d %s", got.status, got.body)
	}
}

func TestGatewayPathAllowlist(t *testing.T) {
	cases := []struct {
		kind          llm.Kind
		method, path  string
		allowed       bool
		errorContains string
	}{
		{llm.KindAnthropic, "POST", "/v1/messages", true, ""},
		{llm.KindAnthropic, "POST", "/v1/messages/count_tokens", true, ""},
		{llm.KindAnthropic, "GET", "/v1/messages", false, `"type":"not_found_error"`},
		{llm.KindAnthropic, "POST", "/v1/messages/", false, `"type":"error"`},
		{llm.KindAnthropic, "POST", "/v1/complete", false, `"type":"error"`},
		{llm.KindAnthropic, "POST", "/v1/messages/batches", false, `"type":"error"`},
		{llm.KindAnthropic, "POST", "/v1/chat/completions", false, `"type":"error"`},
		{llm.KindAnthropic, "POST", "/v1/messages/../files", false, `"type":"error"`},
		{llm.KindAnthropic, "DELETE", "/v1/files/x", false, `"type":"error"`},
		{llm.KindOpenAI, "POST", "/v1/chat/completions", true, ""},
		{llm.KindOpenAI, "GET", "/v1/models", true, ""},
		{llm.KindOpenAI, "POST", "/v1/embeddings", false, `"error":{"code":null`},
		{llm.KindOpenAI, "POST", "/v1/messages", false, `invalid_request_error`},
		{llm.KindOpenAI, "GET", "/v1/files", false, `invalid_request_error`},
	}
	anth := llmtest.NewAnthropic(t, llmtest.Text("a"))
	oai := llmtest.NewOpenAI(t, llmtest.Text("b"))
	boxes := map[llm.Kind]*box{
		llm.KindAnthropic: newBox(t, llm.KindAnthropic, anth.URL, llm.Options{}),
		llm.KindOpenAI:    newBox(t, llm.KindOpenAI, oai.URL, llm.Options{}),
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s %s", tc.kind, tc.method, tc.path), func(t *testing.T) {
			body := guestAnthropic(false)
			if tc.kind == llm.KindOpenAI {
				body = guestOpenAI(false, "")
			}
			if tc.method == "GET" {
				body = ""
			}
			// Send the path raw so the client does not clean "..".
			got := rawRequest(t, boxes[tc.kind].url, tc.method, tc.path, nil, body)
			if tc.allowed {
				if got.status != 200 {
					t.Fatalf("status %d: %s", got.status, got.body)
				}
				return
			}
			if got.status != 404 || !strings.Contains(got.body, tc.errorContains) || !json.Valid([]byte(got.body)) {
				t.Fatalf("got %d %s, want 404 with %s", got.status, got.body, tc.errorContains)
			}
		})
	}
	// Only the allowed requests reached the providers.
	if n := len(anth.Requests()); n != 2 {
		t.Errorf("anthropic fake saw %d requests, want 2", n)
	}
	if n := len(oai.Requests()); n != 2 {
		t.Errorf("openai fake saw %d requests, want 2", n)
	}
}

func TestGatewayOllamaAllowlist(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"models":[]}`)
	}))
	defer up.Close()
	gw, err := llm.NewGateway(llm.Provider{Kind: llm.KindOllama, BaseURL: up.URL}, llm.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{gw: gw}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	b.url = srv.URL
	if got := b.do(t, "GET", "/api/tags", nil, ""); got.status != 200 {
		t.Fatalf("tags: %d", got.status)
	}
	for _, p := range []string{"/api/pull", "/api/delete", "/api/create", "/api/push"} {
		got := b.do(t, "POST", p, nil, `{"model":"x"}`)
		if got.status != 404 || !strings.HasPrefix(got.body, `{"error":"`) {
			t.Errorf("%s: %d %s", p, got.status, got.body)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

// rawRequest writes an HTTP/1.1 request by hand, so the request line,
// Host and path are exactly what a hostile guest would send.
func rawRequest(t *testing.T, base, method, target string, hdr map[string]string, body string) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\n", method, target)
	if _, ok := hdr["Host"]; !ok {
		fmt.Fprintf(&sb, "Host: %s\r\n", strings.TrimPrefix(base, "http://"))
	}
	for k, v := range hdr {
		fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&sb, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(conn, sb.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
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

func TestGatewayCannotBeRedirected(t *testing.T) {
	good := llmtest.NewAnthropic(t, llmtest.Text("1"), llmtest.Text("2"), llmtest.Text("3"), llmtest.Text("4"))
	evil := llmtest.NewAnthropic(t)
	b := newBox(t, llm.KindAnthropic, good.URL, llm.Options{})
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	attempts := []struct {
		target string
		hdr    map[string]string
	}{
		{"http://" + evilHost + "/v1/messages", nil},          // absolute-form URI
		{"/v1/messages", map[string]string{"Host": evilHost}}, // Host header
		{"/v1/messages", map[string]string{"X-Forwarded-Host": evilHost, "X-Forwarded-Proto": "http", "Forwarded": "host=" + evilHost}},
		{"/v1/messages?url=http://" + evilHost + "/", nil}, // query smuggling
		{"//" + evilHost + "/v1/messages", nil},            // scheme-relative path
	}
	for _, a := range attempts {
		got := rawRequest(t, b.url, "POST", a.target, a.hdr, guestAnthropic(false))
		if got.status != 200 && got.status != 404 {
			t.Errorf("%s %v: status %d %s", a.target, a.hdr, got.status, got.body)
		}
	}
	if n := len(evil.Requests()); n != 0 {
		t.Fatalf("the other host received %d requests", n)
	}
	if n := len(good.Requests()); n != 4 {
		t.Fatalf("configured provider received %d requests, want 4", n)
	}
	if q := good.Requests()[3].RawQuery; q != "url=http%3A%2F%2F"+strings.ReplaceAll(evilHost, ":", "%3A")+"%2F" {
		t.Errorf("query forwarded as %q", q)
	}
}

func TestGatewayDoesNotFollowRedirects(t *testing.T) {
	evil := llmtest.NewAnthropic(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/v1/messages", http.StatusTemporaryRedirect)
	}))
	defer up.Close()
	b := newBox(t, llm.KindAnthropic, up.URL, llm.Options{})
	// A raw request, so nothing on the guest side follows the redirect either.
	got := rawRequest(t, b.url, "POST", "/v1/messages", nil, guestAnthropic(false))
	if got.status != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want the 307 passed back", got.status)
	}
	if n := len(evil.Requests()); n != 0 {
		t.Fatalf("redirect followed: %d requests elsewhere", n)
	}
}

func TestGatewayStreamsIncrementally(t *testing.T) {
	release := make(chan struct{})
	fake := llmtest.NewAnthropic(t, llmtest.Text("streamed answer").PauseAfterFirstEvent(release))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	req, _ := http.NewRequest("POST", b.url+"/v1/messages", strings.NewReader(guestAnthropic(true)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content-type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		var ev strings.Builder
		for {
			line, err := rd.ReadString('\n')
			ev.WriteString(line)
			if err != nil || line == "\n" {
				break
			}
		}
		first <- ev.String()
	}()
	select {
	case ev := <-first:
		if !strings.HasPrefix(ev, "event: message_start\ndata: {") {
			t.Fatalf("first event %q", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("first event did not reach the guest while the provider was still streaming")
	}
	if n := len(b.ev.list()); n != 0 {
		t.Fatalf("request reported finished while streaming (%d events)", n)
	}
	close(release)
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(rest), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("stream tail %q", rest)
	}
}

// TestGatewayCancelsUpstreamWhenGuestLeaves checks the provider call is
// tied to the guest's request: hanging up ends it.
func TestGatewayCancelsUpstreamWhenGuestLeaves(t *testing.T) {
	never := make(chan struct{})
	fake := llmtest.NewAnthropic(t, llmtest.Text("never finished").PauseAfterFirstEvent(never))
	b := newBox(t, llm.KindAnthropic, fake.URL, llm.Options{})
	req, _ := http.NewRequest("POST", b.url+"/v1/messages", strings.NewReader(guestAnthropic(true)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the guest goes away mid-stream
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if evs := b.ev.list(); len(evs) == 1 && fake.Requests()[0].Status == 200 {
			return // the paused provider handler saw its context end and returned
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("provider request still open after the guest hung up")
}
