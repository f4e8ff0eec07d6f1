package apiserver

import (
	"bufio"
	"context"
	"strings"
	"sync"
)

// sseEvent is what a client assembles from the stream (the spec's parsing:
// data lines joined with LF; comments counted).
type sseEvent struct {
	ID, Event, Data string
}

// sseReader parses an event stream as an EventSource does.
type sseReader struct {
	br       *bufio.Reader
	Comments []string
}

func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	seen := false
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				ev.Data = strings.Join(data, "\n")
				return ev, nil
			}
			continue
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			r.Comments = append(r.Comments, strings.TrimPrefix(c, " "))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID, seen = value, true
		case "event":
			ev.Event, seen = value, true
		case "data":
			data, seen = append(data, value), true
		}
	}
}

// queue is a Source fed by push; close ends the stream after what it holds.
type queue struct {
	mu     sync.Mutex
	msgs   []Message     // guarded by mu
	closed bool          // guarded by mu
	wake   chan struct{} // guarded by mu; closed at the next push
}

func newQueue() *queue { return &queue{wake: make(chan struct{})} }

func (q *queue) push(ms ...Message) {
	q.mu.Lock()
	q.msgs = append(q.msgs, ms...)
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

func (q *queue) Next(context.Context) ([]Message, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ms := q.msgs
	q.msgs = nil
	return ms, q.closed, nil
}

func (q *queue) Wait(ctx context.Context) error {
	q.mu.Lock()
	if len(q.msgs) > 0 || q.closed {
		q.mu.Unlock()
		return nil
	}
	w := q.wake
	q.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
