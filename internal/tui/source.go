package tui

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/voidbox/voidbox/internal/event"
)

// Source yields a run's events in order.
type Source interface {
	// Next blocks until the next event. It returns io.EOF after the last
	// one, or ctx's error when ctx ends first.
	Next(ctx context.Context) (event.Event, error)
}

// Feed is the Source of a run in this process: it is the run's event.Sink.
// Emit never blocks the engine: events queue until the view takes them.
type Feed struct {
	mu     sync.Mutex
	queue  []event.Event // guarded by mu
	closed bool          // guarded by mu
	ready  chan struct{} // signalled (non-blocking) when queue grows or on Close
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{ready: make(chan struct{}, 1)} }

// Emit queues ev. Events after Close are dropped.
func (f *Feed) Emit(ev event.Event) {
	f.mu.Lock()
	if !f.closed {
		f.queue = append(f.queue, ev)
	}
	f.mu.Unlock()
	f.signal()
}

// Close ends the feed: Next returns io.EOF once the queue is empty.
// Idempotent; the error is always nil.
func (f *Feed) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
	return nil
}

func (f *Feed) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// Next implements Source.
func (f *Feed) Next(ctx context.Context) (event.Event, error) {
	for {
		if ev, ok := f.TryNext(); ok {
			return ev, nil
		}
		f.mu.Lock()
		closed := f.closed && len(f.queue) == 0
		f.mu.Unlock()
		if closed {
			return event.Event{}, io.EOF
		}
		select {
		case <-ctx.Done():
			return event.Event{}, ctx.Err()
		case <-f.ready:
		}
	}
}

// TryNext returns the next queued event without waiting.
func (f *Feed) TryNext() (event.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return event.Event{}, false
	}
	ev := f.queue[0]
	f.queue[0] = event.Event{}
	f.queue = f.queue[1:]
	return ev, true
}

var _ event.Sink = (*Feed)(nil)

// Stream is the Source of an encoded stream: JSON Lines as `voidbox run
// --events` writes them, or Server-Sent Events whose data is one event
// each (the daemon's stream). Every event goes through event.Decode, as
// untrusted input; what does not decode, or is of a type this version does
// not know, is skipped and counted (Skipped).
type Stream struct {
	r       io.ReadCloser
	sc      *bufio.Scanner
	data    bytes.Buffer // SSE data lines of the event being read
	huge    bool         // the SSE event being read is over the limit: skip it
	mu      sync.Mutex   // guards skipped
	skipped int
}

// NewStream reads events from r; Close closes r.
func NewStream(r io.ReadCloser) *Stream {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), event.MaxLine+1024)
	return &Stream{r: r, sc: sc}
}

// Next implements Source. A read in progress is not interrupted by ctx:
// Close the stream to unblock it.
func (s *Stream) Next(ctx context.Context) (event.Event, error) {
	for {
		if err := ctx.Err(); err != nil {
			return event.Event{}, err
		}
		line, err := s.line()
		if err != nil {
			return event.Event{}, err
		}
		if line == nil {
			continue
		}
		ev, err := event.Decode(line)
		if err != nil {
			s.count()
			continue
		}
		return ev, nil
	}
}

// line returns the next encoded event, nil for a line that holds none.
func (s *Stream) line() ([]byte, error) {
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			return nil, err
		}
		if s.data.Len() > 0 { // an SSE event cut off at the end
			b := bytes.Clone(s.data.Bytes())
			s.data.Reset()
			return b, nil
		}
		return nil, io.EOF
	}
	l := s.sc.Bytes()
	switch {
	case len(bytes.TrimSpace(l)) == 0: // SSE: a blank line ends an event
		if s.huge {
			s.huge = false
			s.count()
			return nil, nil
		}
		if s.data.Len() == 0 {
			return nil, nil
		}
		b := bytes.Clone(s.data.Bytes())
		s.data.Reset()
		return b, nil
	case bytes.HasPrefix(l, []byte("data:")):
		if s.huge || s.data.Len()+len(l) > event.MaxLine {
			s.data.Reset()
			s.huge = true
			return nil, nil
		}
		d := bytes.TrimPrefix(l[len("data:"):], []byte(" "))
		if s.data.Len() > 0 {
			s.data.WriteByte('\n')
		}
		s.data.Write(d)
		return nil, nil
	case l[0] == '{':
		return bytes.Clone(l), nil
	case l[0] == ':', bytes.HasPrefix(l, []byte("id:")), bytes.HasPrefix(l, []byte("event:")), bytes.HasPrefix(l, []byte("retry:")):
		return nil, nil // SSE fields that carry no event
	}
	s.count()
	return nil, nil
}

func (s *Stream) count() {
	s.mu.Lock()
	s.skipped++
	s.mu.Unlock()
}

// Skipped counts lines that were not valid events.
func (s *Stream) Skipped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// Close closes the underlying reader.
func (s *Stream) Close() error { return s.r.Close() }
