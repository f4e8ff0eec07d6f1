package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is one Server-Sent Event
// (https://html.spec.whatwg.org/multipage/server-sent-events.html).
type Message struct {
	ID    string // the `id:` field; empty: none (the client keeps its last id)
	Event string // the `event:` field; empty: "message"
	Data  []byte // split into `data:` lines at CR, LF and CRLF
}

// SSE writes an event stream. Methods are not safe for concurrent use: one
// goroutine (the handler's, through Stream) owns it.
type SSE struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
	buf          bytes.Buffer
}

// DefaultSSEWriteTimeout bounds each event's write and flush: a client that
// stops reading is dropped instead of holding the handler forever.
const DefaultSSEWriteTimeout = 10 * time.Second

// StartSSE sends the response headers of an event stream and flushes them.
// retry, if not zero, tells clients how long to wait before reconnecting.
func StartSSE(w http.ResponseWriter, retry time.Duration) (*SSE, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not buffer the stream
	h.Del("Content-Length")
	s := &SSE{w: w, rc: http.NewResponseController(w), writeTimeout: DefaultSSEWriteTimeout}
	w.WriteHeader(http.StatusOK)
	if retry > 0 {
		fmt.Fprintf(&s.buf, "retry: %d\n\n", retry.Milliseconds())
	}
	return s, s.flush()
}

// errFraming: an id or event type would break the stream's framing.
var errFraming = errors.New("sse: id or event contains CR, LF or NUL")

// Send writes one event and flushes it.
func (s *SSE) Send(m Message) error {
	if strings.ContainsAny(m.ID, "\r\n\x00") || strings.ContainsAny(m.Event, "\r\n") {
		return errFraming
	}
	if m.ID != "" {
		s.buf.WriteString("id: " + m.ID + "\n")
	}
	if m.Event != "" {
		s.buf.WriteString("event: " + m.Event + "\n")
	}
	data := m.Data
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		s.buf.WriteString("data: ")
		s.buf.Write(data[:i])
		s.buf.WriteByte('\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	s.buf.WriteString("data: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
	return s.flush()
}

// Comment writes a comment line (clients ignore it; it keeps idle
// connections and proxies from timing out).
func (s *SSE) Comment(text string) error {
	s.buf.WriteString(": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(text) + "\n\n")
	return s.flush()
}

func (s *SSE) flush() error {
	if s.writeTimeout > 0 {
		// Not every ResponseWriter supports deadlines (httptest's does not);
		// the server's always do.
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err == nil {
		err = s.rc.Flush()
	}
	return err
}

// Source feeds Stream.
type Source interface {
	// Next returns the messages available now; done says the stream is
	// complete after them.
	Next(ctx context.Context) (msgs []Message, done bool, err error)
	// Wait returns when Next may have more, or with ctx's error.
	Wait(ctx context.Context) error
}

// Stream sends src's messages on s until src is done (nil), the client goes
// away or the server shuts down (the request context's error; a client then
// reconnects with Last-Event-ID), or src fails. After each heartbeat of
// silence it writes a comment.
func Stream(ctx context.Context, s *SSE, heartbeat time.Duration, src Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stop := stopping(ctx); stop != nil {
		defer context.AfterFunc(stop, cancel)()
	}
	for {
		msgs, done, err := src.Next(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := s.Send(m); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
		if len(msgs) > 0 {
			continue // drain before waiting
		}
		wctx, wcancel := context.WithTimeout(ctx, heartbeat)
		err = src.Wait(wctx)
		wcancel()
		switch {
		case ctx.Err() != nil:
			if stop := stopping(ctx); stop != nil && stop.Err() != nil {
				s.Comment("server shutting down; reconnect with Last-Event-ID")
			}
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if err := s.Comment("heartbeat"); err != nil {
				return err
			}
		case err != nil:
			return err
		}
	}
}

// FormatEventID is the id field of a store event sequence number.
func FormatEventID(seq uint64) string { return strconv.FormatUint(seq, 10) }
