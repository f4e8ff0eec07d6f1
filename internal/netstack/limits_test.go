package netstack

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimitsTrip(t *testing.T) {
	srv := startHTTP(t, "x")
	p := port(t, srv.Listener.Addr().String())
	t.Run("max_flows", func(t *testing.T) {
		r := exampleRig(t, map[string]any{"limits": map[string]any{"max_flows": 1}})
		ctx, cancel := hangGuard()
		defer cancel()
		c1, err := r.guest.dial(ctx, "example.test:"+p)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		start := time.Now()
		_, err = r.guest.dial(ctx, "example.test:"+p)
		refusedFast(t, "second flow", err, start)
		r.events.waitFor(t, "flow limit", func(e Event) bool {
			return e.Kind == Denied && strings.Contains(e.Reason, "flow limit reached (1 open)")
		})
	})
	t.Run("conns_per_second", func(t *testing.T) {
		clk := time.Unix(1e9, 0)
		var mu sync.Mutex
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
		r := newRig(t, Config{Now: now, Policy: mustPolicy(t, map[string]any{
			"allow": []any{"example.test"}, "hosts": map[string]any{"example.test": "127.0.0.1"},
			"limits": map[string]any{"conns_per_second": 2},
		})})
		ctx, cancel := hangGuard()
		defer cancel()
		for i := 0; i < 2; i++ {
			c, err := r.guest.dial(ctx, "example.test:"+p)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		start := time.Now()
		_, err := r.guest.dial(ctx, "example.test:"+p)
		refusedFast(t, "third in a second", err, start)
		r.events.waitFor(t, "rate", func(e Event) bool {
			return e.Kind == Denied && strings.Contains(e.Reason, "rate limit reached (2 per second)")
		})
		mu.Lock()
		clk = clk.Add(time.Second)
		mu.Unlock()
		c, err := r.guest.dial(ctx, "example.test:"+p)
		if err != nil {
			t.Fatalf("a second later: %v", err)
		}
		c.Close()
	})
	t.Run("max_bytes", func(t *testing.T) {
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 1<<20))
		}))
		defer big.Close()
		r := exampleRig(t, map[string]any{"limits": map[string]any{"max_bytes": 64 << 10}})
		resp, err := r.guest.httpClient(nil).Get("http://example.test:" + port(t, big.Listener.Addr().String()) + "/")
		if err == nil {
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n >= 1<<20 {
				t.Fatalf("read all %d bytes past a 64 KiB budget", n)
			}
		}
		r.events.waitFor(t, "cut", func(e Event) bool { return e.Kind == Denied && e.Reason == "cut: byte limit reached" && e.BytesIn > 0 })
		ctx, cancel := hangGuard()
		defer cancel()
		start := time.Now()
		_, err = r.guest.dial(ctx, "example.test:"+p)
		refusedFast(t, "after the budget", err, start)
		r.events.waitFor(t, "budget", func(e Event) bool { return e.Kind == Denied && strings.Contains(e.Reason, "byte limit reached") })
	})
}

// Opaque TCP (neither TLS nor HTTP) to an allowed, pinned address passes
// as is, and a server-first protocol works without the client speaking.
func TestOpaqueTCPPasses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "SSH-2.0-test\r\n") // the server speaks first
		io.Copy(c, c)                         // then echoes
	}()
	r := exampleRig(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := r.guest.dial(ctx, "example.test:"+port(t, ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	banner := make([]byte, 14)
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "SSH-2.0-test\r\n" {
		t.Fatalf("banner %q %v", banner, err)
	}
	io.WriteString(c, "\x00\x01binary")
	c.(interface{ CloseWrite() error }).CloseWrite()
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "\x00\x01binary" {
		t.Fatalf("echo %q %v", rest, err)
	}
}

func TestForwardIntoGuest(t *testing.T) {
	r := exampleRig(t, nil)
	gl, err := gonetListen(r.guest, 8080)
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := gl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	addr, err := r.host.Forward(":0", 8080)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr.String(), "127.0.0.1:") {
		t.Errorf("forward listens on %s, want 127.0.0.1", addr)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "ping")
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "ping" {
		t.Fatalf("echo through forward: %q %v", b, err)
	}
	r.events.waitFor(t, "forward closed", func(e Event) bool { return e.Kind == Allowed && e.Proto == "forward" && e.BytesIn == 4 })
	if _, err := r.host.Forward("127.0.0.1:0", 0); err == nil {
		t.Error("guest port 0 accepted")
	}
}

// A peer that breaks the framing stops the stack with an error; Close
// still works, and twice.
func TestBadFramingStops(t *testing.T) {
	a, b := net.Pipe()
	n, err := New(a, Config{Policy: mustPolicy(t, true)})
	if err != nil {
		t.Fatal(err)
	}
	go b.Write([]byte{0xff, 0xff, 0xff, 0xff})
	select {
	case <-n.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("stack did not stop")
	}
	if n.Err() == nil || !strings.Contains(n.Err().Error(), "frame of") {
		t.Errorf("Err = %v", n.Err())
	}
	n.Close()
	n.Close()
	b.Close()
	if _, err := New(b, Config{Policy: mustPolicy(t, false)}); err == nil {
		t.Error("a stack for network: false")
	}
}
