package event

import (
	"encoding/json"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Writer writes events as JSON lines. It is safe for concurrent use; a
// write error is remembered and reported by Err, never returned to the
// emitter, because losing progress events must not fail a run.
type Writer struct {
	now func() time.Time

	// mu serialises writes so lines never interleave.
	mu  sync.Mutex
	w   io.Writer // guarded by mu
	err error     // guarded by mu: the first write error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, now: time.Now}
}

// Emit stamps ev's header with its type and the current time and writes
// it. ev is one of the event structs of this package, passed by pointer.
func (w *Writer) Emit(ev any) {
	h := header(ev)
	if h == nil {
		return
	}
	h.Time = w.now().UTC()
	clamp(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		w.fail(err)
		return
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = err
	}
}

// Err returns the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// header returns ev's header with Type filled in, or nil for a value that
// is not an event of this package.
func header(ev any) *Header {
	var h *Header
	var typ string
	switch e := ev.(type) {
	case *Started:
		h, typ = &e.Header, TypeStarted
	case *Turn:
		h, typ = &e.Header, TypeTurn
	case *ToolCall:
		h, typ = &e.Header, TypeToolCall
	case *Denied:
		h, typ = &e.Header, TypeDenied
	case *Finished:
		h, typ = &e.Header, TypeFinished
	default:
		return nil
	}
	h.Type = typ
	return h
}

// clamp truncates free-text fields so one event stays well under MaxLine.
func clamp(ev any) {
	switch e := ev.(type) {
	case *ToolCall:
		e.Name = Truncate(e.Name, MaxField)
		e.Error = Truncate(e.Error, MaxField)
	case *Denied:
		e.Command = Truncate(e.Command, MaxField)
		e.Reason = Truncate(e.Reason, MaxField)
	case *Finished:
		e.FinalText = Truncate(e.FinalText, MaxFinalText)
		e.Error = Truncate(e.Error, MaxField)
		e.OutputFile = Truncate(e.OutputFile, MaxField)
	case *Started:
		if len(e.Tools) > 256 {
			e.Tools = e.Tools[:256]
		}
	}
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(0, n-len(mark))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
