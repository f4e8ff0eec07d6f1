package control

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// A guest whose init is compromised (root in the guest after a kernel
// exploit) can send anything on the control port. Each garbage answer to
// the handshake must fail it promptly with an error, never hang or panic;
// garbage after the handshake must end the session, so that every request
// fails instead of waiting. The codec itself is fuzzed (wire FuzzReadFrames).
func TestHandshakeGarbage(t *testing.T) {
	frame := func(typ byte, body string) []byte {
		b := make([]byte, 5, 5+len(body))
		binary.BigEndian.PutUint32(b, uint32(len(body))) // the payload's length; the type follows it
		b[4] = typ
		return append(b, body...)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"a length past the cap", []byte{0x7f, 0xff, 0xff, 0xff, 1}},
		{"an empty welcome", frame(byte(wire.TWelcome), "")},
		{"random bytes", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"a welcome that is not JSON", frame(byte(wire.TWelcome), "{not json")},
		{"a welcome of another protocol version", frame(byte(wire.TWelcome), `{"version":-7}`)},
		{"a frame of another type", frame(0xee, `{}`)},
		{"a cut frame, then silence", frame(byte(wire.TWelcome), `{"version":1`)[:8]},
	} {
		t.Run(c.name, func(t *testing.T) {
			host, guest := net.Pipe()
			done := make(chan struct{})
			defer func() { <-done }()
			go func() {
				defer close(done)
				defer guest.Close()
				r := wire.NewReader(guest, 0)
				if _, err := r.Expect(wire.THello); err != nil {
					return
				}
				guest.Write(c.data)
				// Keep the line open until the host hangs up: a host that
				// waited for more would hang until the test's deadline.
				io.Copy(io.Discard, guest)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			cl, err := Handshake(ctx, host, []byte{1}, Options{})
			if err == nil {
				cl.Close()
				t.Fatal("the handshake accepted garbage")
			}
			if c.name != "a cut frame, then silence" && errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the handshake waited for the deadline instead of refusing: %v", err)
			}
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestGarbageAfterHandshake(t *testing.T) {
	before := runtime.NumGoroutine()
	host, guest := net.Pipe()
	sess := fakeGuest(t, guest, "01")
	cl, err := Handshake(context.Background(), host, []byte{1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := <-sess
	// The guest writes raw junk under the multiplexer.
	go guest.Write([]byte("\xff\xff\xff\xff not a yamux header at all"))
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session survived garbage")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cl.Ping(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ping after garbage: %v", err)
	}
	cl.Close()
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left, %d before", n, before)
	}
}
