package netstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkBulk: guest→host TCP bulk throughput through both stacks to a
// loopback sink (b.SetBytes gives MB/s), at 1280 and the default MTU.
func BenchmarkBulk(b *testing.B) {
	for _, mtu := range []int{1280, DefaultMTU} {
		b.Run(fmt.Sprintf("mtu=%d", mtu), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
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
				io.Copy(io.Discard, c)
				c.Close()
			}()
			r := newRig(b, Config{MTU: mtu, Policy: mustPolicy(b, map[string]any{
				"allow": []any{"sink.test"}, "hosts": map[string]any{"sink.test": "127.0.0.1"},
			})})
			c, err := r.guest.dial(context.Background(), "sink.test:"+port(b, ln.Addr().String()))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			buf[0] = 0 // opaque, not TLS or HTTP
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c.Close()
		})
	}
}

// BenchmarkCRR: connect + request + response + close from the guest to a
// loopback echo server, one at a time (the name is resolved once).
func BenchmarkCRR(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	// Deferred calls run last-in first-out: the listener must close before
	// the wait, or the accept loop never ends (this was the "CRR hang").
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write(buf[:n])
				c.Close()
			}()
		}
	}()
	r := newRig(b, Config{Policy: mustPolicy(b, map[string]any{
		"allow": []any{"echo.test"}, "hosts": map[string]any{"echo.test": "127.0.0.1"},
		"limits": map[string]any{"conns_per_second": 1_000_000, "max_flows": 1_000_000},
	})})
	addrs, err := r.guest.lookup(context.Background(), "echo.test")
	if err != nil {
		b.Fatal(err)
	}
	target := net.JoinHostPort(addrs[0].String(), port(b, ln.Addr().String()))
	req := []byte("\x00ping")
	resp := make([]byte, 64)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := r.guest.dial(ctx, target)
		cancel()
		if err != nil {
			b.Fatalf("crr %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(req)
		if _, err := io.ReadFull(c, resp[:len(req)]); err != nil {
			b.Fatalf("crr %d: %v", i, err)
		}
		c.Close()
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/crr")
}
