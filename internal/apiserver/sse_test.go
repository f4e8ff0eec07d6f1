package apiserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// streamHandler serves q as an event stream and reports when Stream returns.
func streamHandler(q *queue, heartbeat time.Duration, ended chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := StartSSE(w, 2*time.Second)
		if err != nil {
			ended <- err
			return
		}
		ended <- Stream(r.Context(), s, heartbeat, q)
	})
}

func TestSSEFraming(t *testing.T) {
	rec := httptest.NewRecorder()
	s, err := StartSSE(rec, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		{ID: "1", Event: "exec.output", Data: []byte(`{"a":1}`)},
		{ID: "2", Data: []byte("two\nlines")},
		{Data: []byte("cr\rlf\r\ncrlf\n")},
	} {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	s.Comment("beat\ninjected: x")
	for _, bad := range []Message{{ID: "1\n2"}, {ID: "a\rb"}, {ID: "a\x00"}, {Event: "x\ndata: y"}} {
		if err := s.Send(bad); !errors.Is(err, errFraming) {
			t.Errorf("Send(%q): %v", bad, err)
		}
	}
	want := "retry: 1500\n\n" +
		"id: 1\nevent: exec.output\ndata: {\"a\":1}\n\n" +
		"id: 2\ndata: two\ndata: lines\n\n" +
		"data: cr\ndata: lf\ndata: crlf\ndata: \n\n" +
		": beat injected: x\n\n"
	if got := rec.Body.String(); got != want {
		t.Fatalf("stream:\n%q\nwant\n%q", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := &sseReader{br: bufio.NewReader(strings.NewReader(want))}
	for _, w := range []sseEvent{{"1", "exec.output", `{"a":1}`}, {"2", "", "two\nlines"}, {"", "", "cr\nlf\ncrlf\n"}} {
		if ev, err := r.next(); err != nil || ev != w {
			t.Fatalf("parsed %+v (%v), want %+v", ev, err, w)
		}
	}
}

func TestSSEOverSocket(t *testing.T) {
	path := socketPath(t)
	q := newQueue()
	ended := make(chan error, 1)
	serve(t, Config{Handler: streamHandler(q, 100*time.Millisecond, ended), Socket: path})
	for _, h2 := range []bool{false, true} {
		resp, err := unixClient(path, h2).Get("http://voidbox/")
		if err != nil {
			t.Fatal(err)
		}
		r := &sseReader{br: bufio.NewReader(resp.Body)}
		q.push(Message{ID: "1", Event: "a", Data: []byte("x")})
		if ev, err := r.next(); err != nil || ev.ID != "1" || ev.Data != "x" {
			t.Fatalf("h2=%v: first event %+v %v", h2, ev, err)
		}
		// Silence: heartbeats.
		time.Sleep(350 * time.Millisecond)
		q.push(Message{ID: "2", Event: "a", Data: []byte("y")})
		if ev, err := r.next(); err != nil || ev.ID != "2" {
			t.Fatalf("h2=%v: second event %+v %v", h2, ev, err)
		}
		if n := len(r.Comments); n < 2 {
			t.Fatalf("h2=%v: %d heartbeats in 350ms at 100ms", h2, n)
		}
		// The client goes away: Stream returns.
		resp.Body.Close()
		select {
		case err := <-ended:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("h2=%v: Stream after disconnect: %v", h2, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("h2=%v: Stream still running after the client left", h2)
		}
	}
	// A source that is done ends the response.
	resp, err := unixClient(path, false).Get("http://voidbox/")
	if err != nil {
		t.Fatal(err)
	}
	q.close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("reading a finished stream: %v", err)
	}
	if err := <-ended; err != nil {
		t.Fatalf("Stream of a finished source: %v", err)
	}
}

// TestSSEEndsAtShutdown: an open stream does not hold up a graceful
// shutdown; the client is told to reconnect.
func TestSSEEndsAtShutdown(t *testing.T) {
	path := socketPath(t)
	q := newQueue()
	ended := make(chan error, 1)
	s, err := New(context.Background(), Config{Handler: streamHandler(q, time.Hour, ended), Socket: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	resp, err := unixClient(path, false).Get("http://voidbox/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown with an open stream took %v", d)
	}
	r := &sseReader{br: bufio.NewReader(resp.Body)}
	r.next()
	if len(r.Comments) == 0 || !strings.Contains(r.Comments[len(r.Comments)-1], "Last-Event-ID") {
		t.Fatalf("comments at shutdown: %q", r.Comments)
	}
	<-ended
}
