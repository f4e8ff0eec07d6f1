package tui

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunReplaysAndQuits drives the whole program: a recorded stream in,
// frames out, q to leave; Run returns with its reader stopped.
func TestRunReplaysAndQuits(t *testing.T) {
	f, err := os.Open("testdata/fanout.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	keys, typist := io.Pipe()
	defer typist.Close()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), NewStream(f), keys, &out, Options{Width: 100, Height: 24}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(ansi.Strip(out.String()), "5/5 done") {
		if time.Now().After(deadline) {
			t.Fatalf("never drew the finished run:\n%q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(typist, "q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("q did not end the view")
	}
}

// TestRunEndsWithItsContext: a signal (the caller's context) ends the
// view even while the stream's read blocks.
func TestRunEndsWithItsContext(t *testing.T) {
	r, w := io.Pipe() // a stream that never sends anything
	defer w.Close()
	keys, typist := io.Pipe()
	defer typist.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, NewStream(r), keys, io.Discard, Options{}) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after its context ended: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
