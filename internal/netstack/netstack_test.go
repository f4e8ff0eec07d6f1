package netstack

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func exampleRig(t *testing.T, extra map[string]any) *rig {
	t.Helper()
	raw := map[string]any{
		"allow": []any{"example.test"},
		"hosts": map[string]any{"example.test": "127.0.0.1"},
	}
	for k, v := range extra {
		raw[k] = v
	}
	return newRig(t, Config{Policy: mustPolicy(t, raw)})
}

func get(t *testing.T, c interface {
	Get(string) (*http.Response, error)
}, url string) (string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestAllowedNameHTTP(t *testing.T) {
	srv := startHTTP(t, "hello")
	r := exampleRig(t, nil)
	body, err := get(t, r.guest.httpClient(nil), "http://example.test:"+port(t, srv.Listener.Addr().String())+"/")
	if err != nil || body != "hello example.test:"+port(t, srv.Listener.Addr().String()) {
		t.Fatalf("GET: %q, %v", body, err)
	}
	closed := r.events.waitFor(t, "allowed tcp", func(e Event) bool { return e.Kind == Allowed && e.Proto == "tcp" })
	if closed.Name != "example.test" || closed.IP.String() != "127.0.0.1" || closed.BytesIn == 0 || closed.BytesOut == 0 ||
		!strings.Contains(closed.Reason, "pinned to example.test") || closed.Duration <= 0 {
		t.Errorf("allowed event %+v", closed)
	}
	r.events.waitFor(t, "allowed dns", func(e Event) bool {
		return e.Kind == Allowed && e.Proto == "dns" && e.Name == "example.test" && strings.Contains(e.Reason, "allow[0]")
	})
	st := r.host.Stats()
	if st.FlowsAllowed != 1 || st.FlowsDenied != 0 || st.DNSAllowed < 1 || st.BytesIn != closed.BytesIn || st.BytesOut != closed.BytesOut {
		t.Errorf("stats %+v, closed %+v", st, closed)
	}
}

func TestAllowedNameHTTPS(t *testing.T) {
	ca := newTestCA(t, "example.test")
	srv := startHTTPS(t, ca, "secure")
	r := exampleRig(t, nil)
	body, err := get(t, r.guest.httpClient(ca.pool), "https://example.test:"+port(t, srv.Listener.Addr().String())+"/")
	if err != nil || body != "secure example.test" {
		t.Fatalf("GET: %q, %v", body, err)
	}
	r.events.waitFor(t, "closed tcp", func(e Event) bool { return e.Kind == Allowed && e.Name == "example.test" && e.BytesIn > 0 })
}

func TestOtherNameNXDOMAIN(t *testing.T) {
	r := exampleRig(t, nil)
	ctx, cancel := hangGuard()
	defer cancel()
	start := time.Now()
	_, err := r.guest.lookup(ctx, "other.test")
	refusedFast(t, "lookup", err, start)
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("lookup other.test: %v, want not found", err)
	}
	// Over TCP too.
	_, err = r.guest.resolver("tcp").LookupNetIP(ctx, "ip4", "other.test")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("lookup over tcp: %v", err)
	}
	e := r.events.waitFor(t, "denied dns", func(e Event) bool { return e.Kind == Denied && e.Proto == "dns" })
	if e.Name != "other.test" || !strings.Contains(e.Reason, "not in the allowlist") || !strings.Contains(e.Reason, "NXDOMAIN") {
		t.Errorf("event %+v", e)
	}
	if st := r.host.Stats(); st.DNSDenied < 2 {
		t.Errorf("stats %+v", st)
	}
}
