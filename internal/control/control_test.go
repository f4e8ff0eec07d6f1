package control

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/voidbox/voidbox/internal/wire"
)

// fakeGuest answers the handshake like the guest init and returns its side
// of the multiplexer.
func fakeGuest(t *testing.T, conn net.Conn, secret string) <-chan *yamux.Session {
	out := make(chan *yamux.Session, 1)
	go func() {
		r := wire.NewReader(conn, 0)
		f, err := r.Expect(wire.THello)
		if err != nil {
			t.Error(err)
			return
		}
		var h wire.Hello
		if f.Decode(&h); h.Secret != secret {
			_ = wire.WriteJSON(conn, wire.TReject, wire.Reject{Reason: "bad secret"})
			conn.Close()
			return
		}
		_ = wire.WriteJSON(conn, wire.TWelcome, wire.Welcome{Version: wire.Version, Kernel: "test"})
		s, err := yamux.Server(conn, muxConfig())
		if err != nil {
			t.Error(err)
			return
		}
		out <- s
	}()
	return out
}

func TestHandshakeRejectsWrongSecret(t *testing.T) {
	host, guest := net.Pipe()
	fakeGuest(t, guest, "00")
	_, err := Handshake(context.Background(), host, []byte{1}, Options{})
	if err == nil || err.Error() != "the guest init refused the handshake: bad secret" {
		t.Fatalf("got %v", err)
	}
}

func TestHandshakeTimesOut(t *testing.T) {
	host, _ := net.Pipe() // a guest that never answers
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Handshake(ctx, host, []byte{1}, Options{}); err == nil {
		t.Fatal("handshake with a silent guest succeeded")
	}
}

// TestTunnelLimit: a guest opening more tunnels than maxTunnels gets the
// excess refused instead of holding host goroutines and buffers.
func TestTunnelLimit(t *testing.T) {
	host, guest := net.Pipe()
	gs := fakeGuest(t, guest, "01")
	var served atomic.Int32
	block := make(chan struct{})
	c, err := Handshake(context.Background(), host, []byte{1}, Options{Services: map[string]TunnelHandler{
		"svc": func(conn net.Conn) { served.Add(1); <-block; conn.Close() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	sess := <-gs
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < maxTunnels+20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := sess.OpenStream()
			if err != nil {
				return
			}
			_ = wire.WriteJSON(st, wire.TTunnel, wire.Tunnel{Service: "svc"})
			_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := wire.NewReader(st, 0).Expect(wire.TOK); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	// The host answers OK before it calls the handler, so the last handlers
	// may still be starting (the race detector's slowdown showed it).
	for deadline := time.Now().Add(5 * time.Second); served.Load() < maxTunnels && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if ok.Load() != maxTunnels || served.Load() != maxTunnels {
		t.Fatalf("%d tunnels accepted, %d served; want %d", ok.Load(), served.Load(), maxTunnels)
	}
	close(block)
	c.Close()
}
