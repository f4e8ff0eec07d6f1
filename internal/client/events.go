package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

// Reconnection of Follow.
const (
	defaultRetry  = time.Second
	maxRetry      = 10 * time.Second
	maxReconnects = 30 // in a row without an event: the daemon is gone
)

// EventFunc receives one event of a run with its id (the run's sequence
// number). Returning an error stops Follow with it.
type EventFunc func(id uint64, e event.Event) error

// Follow streams a run's events after `after` to fn over Server-Sent
// Events, in order and each once: when the connection drops (the daemon
// restarted, a proxy cut it) it reconnects with Last-Event-ID. It returns
// nil once the run has ended and fn has had its last event. Events of
// types this build does not know are skipped (docs/events.md: consumers
// ignore them).
func (c *Client) Follow(ctx context.Context, id string, after uint64, fn EventFunc) error {
	retry, fails := defaultRetry, 0
	for {
		before := after
		err := c.stream(ctx, id, &after, &retry, fn)
		var ferr *fnError
		switch {
		case errors.As(err, &ferr):
			return ferr.err
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && IsNotFound(err):
			return err
		}
		run, gerr := c.GetRun(ctx, id)
		if gerr == nil && isTerminal(run.Status) && after >= run.LastEventID {
			return nil
		}
		if IsNotFound(gerr) {
			return gerr
		}
		if after > before {
			fails = 0
		}
		if fails++; fails > maxReconnects {
			return fmt.Errorf("following run %s: gave up after %d reconnects: %w", id, maxReconnects, errors.Join(err, gerr))
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func isTerminal(s string) bool { return s == "succeeded" || s == "failed" || s == "cancelled" }

// fnError is an error of the caller's EventFunc, not of the stream.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// stream reads one SSE connection, advancing *after past each event.
func (c *Client) stream(ctx context.Context, id string, after *uint64, retry *time.Duration, fn EventFunc) error {
	hdr := http.Header{"Accept": {"text/event-stream"}}
	if *after > 0 {
		hdr.Set("Last-Event-ID", strconv.FormatUint(*after, 10))
	}
	resp, err := c.send(ctx, "GET", "/v1/runs/"+url.PathEscape(id)+"/events", hdr, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readSSE(resp.Body, func(m message) error {
		if m.retry > 0 {
			*retry = min(m.retry, maxRetry)
		}
		if m.id == "" {
			return nil
		}
		seq, err := strconv.ParseUint(m.id, 10, 64)
		if err != nil {
			return fmt.Errorf("event id %q: %w", m.id, err)
		}
		if seq <= *after {
			return nil // a duplicate cannot happen with a conforming server; never pass one on
		}
		*after = seq
		e, err := event.Decode(m.data)
		if err != nil {
			return nil // a type this build does not know
		}
		if err := fn(seq, e); err != nil {
			return &fnError{err}
		}
		return nil
	})
}

// message is one dispatched Server-Sent Event.
type message struct {
	id, event string
	data      []byte
	retry     time.Duration
}

// maxSSELine bounds one line of the stream (an event's data line).
const maxSSELine = 2 << 20

// readSSE parses an event stream
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
func readSSE(r io.Reader, dispatch func(message) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxSSELine)
	var m message
	var data bytes.Buffer
	hasData := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if hasData || m.retry > 0 {
				m.data = bytes.TrimSuffix(data.Bytes(), []byte{'\n'})
				if err := dispatch(m); err != nil {
					return err
				}
			}
			m, hasData = message{}, false
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(field) {
		case "id":
			m.id = string(value)
		case "event":
			m.event = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
			hasData = true
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 {
				m.retry = time.Duration(n) * time.Millisecond
			}
		}
	}
	return sc.Err()
}
