package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/store"
)

var benchData = []byte(`{"time":"2026-12-01T00:00:00Z","type":"exec.output","run":"bench","stage":"build","attempt":1,"fields":{"stream":"stdout","data":"hello\n"}}`)

// BenchmarkSSEEvent: one event end to end through the shell, one at a time:
// handed to the stream's source, written, flushed, carried over the unix
// socket and parsed by a client. ns/op is the latency of one event.
func BenchmarkSSEEvent(b *testing.B) {
	for _, h2 := range []bool{false, true} {
		b.Run(map[bool]string{false: "http1", true: "h2c"}[h2], func(b *testing.B) {
			path := socketPath(b)
			q := newQueue()
			ended := make(chan error, 1)
			s, err := New(context.Background(), Config{Handler: streamHandler(q, time.Minute, ended), Socket: path})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx) }()
			defer func() { cancel(); <-done }()
			resp, err := unixClient(path, h2).Get("http://voidbox/")
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			r := &sseReader{br: bufio.NewReader(resp.Body)}
			i := 0
			for b.Loop() {
				i++
				q.push(Message{ID: fmt.Sprint(i), Event: "exec.output", Data: benchData})
				if _, err := r.next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSSEEventFromStore: the same, from AppendEvents on a SQLite store
// (durable write, wake-up, read back) to the client's parsed event.
func BenchmarkSSEEventFromStore(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	run, _, _ := st.CreateRun(ctx, store.NewRun{Name: "bench", Kind: "pipeline"})
	path := socketPath(b)
	s, err := New(ctx, Config{Handler: eventsHandler(st), Socket: path})
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	resp, err := unixClient(path, false).Get("http://voidbox/v1/runs/" + run.ID + "/events")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status)
	}
	r := &sseReader{br: bufio.NewReader(resp.Body)}
	for b.Loop() {
		if _, err := st.AppendEvents(ctx, run.ID, []store.Event{{Type: "exec.output", Data: benchData}}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.next(); err != nil {
			b.Fatal(err)
		}
	}
}
