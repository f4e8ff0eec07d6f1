package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve starts a server for cfg and stops it at the end of the test.
func serve(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func unixClient(path string, h2c bool) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// socketPath is a socket in a fresh private directory (unix socket paths
// are limited to 108 bytes, so not under a deep t.TempDir()).
func socketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "vbapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "run", "voidbox.sock")
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, 200, map[string]any{"proto": r.ProtoMajor})
})

// apiError decodes a JSON error response, failing unless it has that shape.
func apiError(t *testing.T, resp *http.Response) (code, field string) {
	t.Helper()
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response of type %q", ct)
	}
	var b struct {
		Error struct{ Code, Message, Field string }
	}
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error body: %+v, %v", b, err)
	}
	return b.Error.Code, b.Error.Field
}

func TestUnixSocket(t *testing.T) {
	path := socketPath(t)
	s := serve(t, Config{Handler: hello, Socket: path})
	fi, err := os.Stat(s.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600 socket", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory mode %v, want 0700", di.Mode().Perm())
	}
	for _, h2 := range []bool{false, true} {
		resp, err := unixClient(path, h2).Get("http://voidbox/")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Proto int }
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if want := map[bool]int{false: 1, true: 2}[h2]; v.Proto != want || resp.ProtoMajor != want {
			t.Fatalf("h2c=%v: served HTTP/%d (response %d)", h2, v.Proto, resp.ProtoMajor)
		}
	}
}

func TestSocketStaleReplacedLiveRefused(t *testing.T) {
	path := socketPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	// A dead daemon's socket: bound, then its process gone (no unlink).
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	s := serve(t, Config{Handler: hello, Socket: path})
	if resp, err := unixClient(s.SocketPath(), false).Get("http://voidbox/"); err != nil {
		t.Fatalf("after replacing a stale socket: %v", err)
	} else {
		resp.Body.Close()
	}
	// A second daemon on the live socket is refused, and the first keeps serving.
	if _, err := New(context.Background(), Config{Handler: hello, Socket: path}); err == nil ||
		!strings.Contains(err.Error(), "another voidbox daemon") {
		t.Fatalf("second daemon on a live socket: %v", err)
	}
	if resp, err := unixClient(path, false).Get("http://voidbox/"); err != nil {
		t.Fatalf("first daemon after the refused second: %v", err)
	} else {
		resp.Body.Close()
	}
	// Something that is not a socket is never removed.
	other := filepath.Join(filepath.Dir(path), "notasocket")
	os.WriteFile(other, []byte("keep"), 0o600)
	if _, err := New(context.Background(), Config{Handler: hello, Socket: other}); err == nil {
		t.Fatal("listening over a regular file succeeded")
	}
	if b, _ := os.ReadFile(other); string(b) != "keep" {
		t.Fatal("the regular file was replaced")
	}
	// A directory others can write in is refused.
	shared := filepath.Join(filepath.Dir(path), "shared")
	os.Mkdir(shared, 0o777)
	os.Chmod(shared, 0o777)
	if _, err := New(context.Background(), Config{Handler: hello, Socket: filepath.Join(shared, "s.sock")}); err == nil {
		t.Fatal("socket in a world-writable directory accepted")
	}
}

func TestTCPToken(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "conf", "token")
	s := serve(t, Config{Handler: hello, TCP: "127.0.0.1:0", TokenFile: tokFile})
	fi, err := os.Stat(tokFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v", fi, err)
	}
	b, _ := os.ReadFile(tokFile)
	if tok := strings.TrimSpace(string(b)); tok != s.Token() || len(tok) != 64 {
		t.Fatalf("token file holds %q, server uses %q", tok, s.Token())
	}
	url := "http://" + s.TCPAddr().String() + "/"
	for name, auth := range map[string]string{
		"none": "", "wrong": "Bearer " + strings.Repeat("0", 64), "prefix": "Bearer " + s.Token()[:10],
		"basic": "Basic " + s.Token(), "longer": "Bearer " + s.Token() + "x",
	} {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s token: status %d", name, resp.StatusCode)
		}
		if code, _ := apiError(t, resp); code != CodeUnauthorized {
			t.Fatalf("%s token: code %q", name, code)
		}
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("right token: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	// The same file is reused by the next daemon.
	tok, err := LoadOrCreateToken(tokFile)
	if err != nil || tok != s.Token() {
		t.Fatalf("reloading the token: %q %v", tok, err)
	}
	os.Chmod(tokFile, 0o644)
	if _, err := LoadOrCreateToken(tokFile); err == nil {
		t.Fatal("a token file others can read was accepted")
	}
}

func TestTCPRefusals(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no token":               {Handler: hello, TCP: "127.0.0.1:0"},
		"plaintext non-loopback": {Handler: hello, TCP: "0.0.0.0:0", Token: strings.Repeat("t", 32)},
		"cert without key":       {Handler: hello, TCP: "127.0.0.1:0", Token: strings.Repeat("t", 32), CertFile: "c.pem"},
		"tls without tcp":        {Handler: hello, Socket: socketPath(t), CertFile: "c", KeyFile: "k"},
		"nothing to listen on":   {Handler: hello},
		"no handler":             {Socket: socketPath(t)},
	} {
		if s, err := New(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBodyCap(t *testing.T) {
	path := socketPath(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := DecodeJSON(r, &v); err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, 200, v)
	})
	serve(t, Config{Handler: h, Socket: path, MaxBodyBytes: 1024})
	c := unixClient(path, false)
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	// With a Content-Length, and chunked (no length): both 413.
	for _, body := range []io.Reader{strings.NewReader(big), io.MultiReader(strings.NewReader(big))} {
		resp, err := c.Post("http://voidbox/", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 413 {
			t.Fatalf("oversized body: status %d", resp.StatusCode)
		}
		if code, _ := apiError(t, resp); code != CodeTooLarge {
			t.Fatalf("oversized body: code %s", code)
		}
	}
	resp, err := c.Post("http://voidbox/", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("small body: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func TestJSONErrorsFromMux(t *testing.T) {
	path := socketPath(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, []int{}) })
	serve(t, Config{Handler: mux, Socket: path})
	c := unixClient(path, false)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{{"GET", "/nope", 404, CodeNotFound}, {"DELETE", "/v1/things", 405, CodeMethodNotAllowed}} {
		req, _ := http.NewRequest(tc.method, "http://voidbox"+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status {
			t.Fatalf("%s %s: %d", tc.method, tc.path, resp.StatusCode)
		}
		if code, _ := apiError(t, resp); code != tc.code {
			t.Fatalf("%s %s: code %s", tc.method, tc.path, code)
		}
	}
}

// TestSlowClients: a client that never finishes its headers is disconnected
// after ReadHeaderTimeout; one that never finishes its body gets a 408.
func TestSlowClients(t *testing.T) {
	path := socketPath(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		if err := DecodeJSON(r, &v); err != nil {
			WriteError(w, err)
			return
		}
		w.WriteHeader(204)
	})
	serve(t, Config{Handler: h, Socket: path, ReadHeaderTimeout: 200 * time.Millisecond, BodyTimeout: 300 * time.Millisecond})

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\n"))
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("slow headers: connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow headers held the connection %v", d)
	}

	c2, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"))
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatalf("slow body: %v", err)
	}
	if resp.StatusCode != 408 {
		t.Fatalf("slow body: status %d", resp.StatusCode)
	}
	if code, _ := apiError(t, resp); code != CodeTimeout {
		t.Fatalf("slow body: code %s", code)
	}
}

// TestLongHandlerAfterBody: the body deadline does not cut a handler that
// keeps working after it read its body.
func TestLongHandlerAfterBody(t *testing.T) {
	path := socketPath(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		if err := DecodeJSON(r, &v); err != nil {
			WriteError(w, err)
			return
		}
		select {
		case <-time.After(600 * time.Millisecond):
			w.WriteHeader(204)
		case <-r.Context().Done():
			t.Error("request context ended while the handler worked")
		}
	})
	serve(t, Config{Handler: h, Socket: path, BodyTimeout: 200 * time.Millisecond})
	resp, err := unixClient(path, false).Post("http://voidbox/", "application/json", strings.NewReader(`{}`))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("long handler: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestGracefulShutdown(t *testing.T) {
	path := socketPath(t)
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		WriteJSON(w, 200, "done")
	})
	s, err := New(context.Background(), Config{Handler: h, Socket: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	got := make(chan error, 1)
	go func() {
		resp, err := unixClient(path, false).Get("http://voidbox/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = errors.New(resp.Status)
			}
		}
		got <- err
	}()
	<-started
	cancel()
	if err := <-got; err != nil {
		t.Fatalf("request in progress at shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	// And the path is free for the next daemon.
	s2, err := New(context.Background(), Config{Handler: h, Socket: path})
	if err != nil {
		t.Fatalf("restart on the same socket: %v", err)
	}
	s2.Close()
	s2.Close()
}
