package netstack

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// A box that depends on a service reaches exactly its declared port by its
// name, through the target the host gave, and nothing else: not the other
// ports of the target's host, not other host loopback servers, not the
// service's address on another port or over UDP, not the internet.
func TestServiceReachableByNameOnly(t *testing.T) {
	svc := startHTTP(t, "service")
	other := startHTTP(t, "other") // another host loopback server
	target := netip.MustParseAddrPort(svc.Listener.Addr().String())
	pol := &netpolicy.Policy{Mode: netpolicy.ModeAllowlist, Services: []netpolicy.Service{{Name: "web", Port: 8080, Target: target}}}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, Config{Policy: pol, Resolver: table{"other.test": {netip.MustParseAddr("127.0.0.1")}}})

	body, err := get(t, r.guest.httpClient(nil), "http://web:8080/")
	if err != nil || body != "service web:8080" {
		t.Fatalf("GET web:8080: %q, %v", body, err)
	}
	ev := r.events.waitFor(t, "allowed service flow", func(e Event) bool { return e.Kind == Allowed && e.Proto == "tcp" })
	if ev.Name != "web" || ev.IP != target.Addr() || !strings.Contains(ev.Reason, "service web port 8080") {
		t.Errorf("event %+v", ev)
	}
	addrs, err := r.guest.lookup(context.Background(), "web")
	if err != nil || len(addrs) != 1 || !serviceRange.Contains(addrs[0]) {
		t.Fatalf("web resolves to %v, %v", addrs, err)
	}

	ctx, cancel := hangGuard()
	defer cancel()
	start := time.Now()
	_, err = r.guest.dial(ctx, netip.AddrPortFrom(addrs[0], 8081).String())
	refusedFast(t, "undeclared service port", err, start)
	r.events.waitFor(t, "denied port", func(e Event) bool {
		return e.Kind == Denied && strings.Contains(e.Reason, "service web has no port 8081")
	})
	// The target's real port, at the gateway or as an IP literal.
	for _, to := range []string{"10.0.2.2:" + port(t, svc.Listener.Addr().String()), "10.0.2.2:" + port(t, other.Listener.Addr().String())} {
		ctx, cancel := hangGuard()
		start = time.Now()
		_, err = r.guest.dial(ctx, to)
		cancel()
		refusedFast(t, to, err, start)
	}
	lctx, lcancel := hangGuard()
	defer lcancel()
	if _, err := r.guest.lookup(lctx, "other.test"); err == nil {
		t.Error("a name that is no service resolved")
	}
}

// A service's readiness probe: DialGuest connects only once something
// listens on the guest port.
func TestDialGuest(t *testing.T) {
	r := newRig(t, Config{Policy: &netpolicy.Policy{Mode: netpolicy.ModeAllowlist}})
	ctx, cancel := hangGuard()
	defer cancel()
	if c, err := r.host.DialGuest(ctx, 9000); err == nil {
		c.Close()
		t.Fatal("dialled a guest port nothing listens on")
	}
	ln, err := gonetListen(r.guest, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("up"))
			c.Close()
		}
	}()
	c, err := r.host.DialGuest(ctx, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, err := io.ReadAll(c); err != nil || string(b) != "up" {
		t.Errorf("read %q, %v", b, err)
	}
}
