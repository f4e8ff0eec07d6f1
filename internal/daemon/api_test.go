package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/client"
)

// These tests boot no VM: they check the API's edges.

func TestSocketIsPrivate(t *testing.T) {
	s := serveTest(t, Config{}, "")
	fi, err := os.Stat(s.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	h, err := s.c.Health(ctxT(t, 10e9))
	if err != nil || h.Status != "ok" || h.MaxVMs < 1 {
		t.Fatalf("health %+v, %v", h, err)
	}
}

func TestTCPNeedsToken(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t, 30e9)
	s := serveTest(t, Config{}, "sqlite:"+filepath.Join(dir, "x.db"))
	srv, err := apiserver.New(ctx, apiserver.Config{Handler: s.d, TCP: "127.0.0.1:0", Token: "0123456789abcdef0123"})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	host := "tcp://" + srv.TCPAddr().String()
	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		c, _ := client.New(host, client.Options{Token: tok})
		_, err := c.Health(ctx)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized || ce.Code != "unauthorized" {
			t.Errorf("token %q: %v, want 401 unauthorized", tok, err)
		}
	}
	c, _ := client.New(host, client.Options{Token: "0123456789abcdef0123"})
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("right token: %v", err)
	}
}

func post(t *testing.T, s *served, path, ctype string, body []byte) (int, apiv1.ErrorBody) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (c netConn, err error) {
		return dialUnix(ctx, s.socket)
	}}}
	resp, err := hc.Post("http://voidbox"+path, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb apiv1.ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb
}

func TestRequestErrors(t *testing.T) {
	s := serveTest(t, Config{}, "")
	big := append([]byte(`{"spec":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	if st, eb := post(t, s, "/v1/runs", "application/json", append(big, '"', '}')); st != http.StatusRequestEntityTooLarge || eb.Error.Code != "payload_too_large" {
		t.Errorf("oversized body: %d %+v", st, eb)
	}
	spec := "api_version: v1\nkind: pipeline\nname: bad\npipeline:\n  boxes:\n    - name: a\n      exec: [true]\n      memory_mb: 1\n"
	body, _ := json.Marshal(apiv1.CreateRun{Spec: spec, SpecName: "bad.yaml"})
	st, eb := post(t, s, "/v1/runs", "application/json", body)
	if st != http.StatusBadRequest || eb.Error.Code != apiv1.CodeInvalidSpec || eb.Error.Field != "spec" ||
		!strings.Contains(eb.Error.Message, "bad.yaml:8:7: pipeline.boxes[0].memory_mb") {
		t.Errorf("bad spec: %d %+v", st, eb)
	}
	if st, eb := post(t, s, "/v1/runs", "application/json", []byte("{\n  \"spec\": 3}")); st != 400 || !strings.Contains(eb.Error.Message, "2:11") || eb.Error.Field != "spec" {
		t.Errorf("wrong type: %d %+v", st, eb)
	}
	if st, _ := post(t, s, "/v1/runs", "text/yaml", []byte("kind: pipeline")); st != http.StatusUnsupportedMediaType {
		t.Errorf("yaml body: %d", st)
	}
	host := "kind: pipeline\nname: h\nsandbox:\n  env: {HOME: \"\"}\npipeline:\n  boxes: [{name: a, exec: [true]}]\n"
	body, _ = json.Marshal(apiv1.CreateRun{Spec: host})
	if st, eb := post(t, s, "/v1/runs", "application/json", body); st != 400 || !strings.Contains(eb.Error.Message, "spec:4:15: sandbox.env.HOME: a spec sent to a daemon cannot copy") {
		t.Errorf("host env: %d %+v", st, eb)
	}
	agent := "kind: agent\nname: a\nllm: {provider: custom, base_url: \"http://127.0.0.1:9\", api_key_env: SECRET}\nagent: {prompt: hi}\n"
	body, _ = json.Marshal(apiv1.CreateRun{Spec: agent})
	st, eb = post(t, s, "/v1/runs", "application/json", body)
	if st != 400 || !strings.Contains(eb.Error.Message, "spec:3:6: box \"a\" llm.base_url: http://127.0.0.1:9 is not an endpoint") ||
		!strings.Contains(eb.Error.Message, "llm.api_key_env: SECRET is not a key variable") {
		t.Errorf("endpoint and key: %d %+v", st, eb)
	}
	body, _ = json.Marshal(apiv1.CreateSandbox{Policy: json.RawMessage(`{"memory_mb": 1}`)})
	if st, eb := post(t, s, "/v1/sandboxes", "application/json", body); st != 400 || eb.Error.Code != apiv1.CodeInvalidPolicy || eb.Error.Field != "policy.memory_mb" {
		t.Errorf("bad policy: %d %+v", st, eb)
	}
	body, _ = json.Marshal(apiv1.CreateSandbox{Policy: json.RawMessage(`{"memry_mb": 256}`)})
	if st, eb := post(t, s, "/v1/sandboxes", "application/json", body); st != 400 || eb.Error.Field != "policy.memry_mb" {
		t.Errorf("unknown policy field: %d %+v", st, eb)
	}
	body, _ = json.Marshal(apiv1.CreateSandbox{Policy: json.RawMessage(`{"mounts": [{"host": "/etc", "guest": "/data"}]}`)})
	if st, eb := post(t, s, "/v1/sandboxes", "application/json", body); st != 400 || eb.Error.Field != "policy.mounts" {
		t.Errorf("host mount: %d %+v", st, eb)
	}
	for pol, field := range map[string]string{
		`{"network": {"allow": ["example.test"], "host_ports": [11434]}}`: "policy.network.host_ports",
		`{"network": true, "ports": ["8080:80"]}`:                         "policy.ports",
	} {
		body, _ = json.Marshal(apiv1.CreateSandbox{Policy: json.RawMessage(pol)})
		if st, eb := post(t, s, "/v1/sandboxes", "application/json", body); st != 400 || eb.Error.Field != field {
			t.Errorf("%s: %d %+v", pol, st, eb)
		}
	}
	_, err := s.c.GetRun(ctxT(t, 10e9), "nope")
	if !client.IsNotFound(err) {
		t.Errorf("unknown run: %v", err)
	}
}
