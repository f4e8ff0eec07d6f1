package event

import (
	"encoding/json"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Writer writes events as JSON lines (the built-in agent's stream, and
// `voidbox run --events`). It is safe for concurrent use; a write error is
// remembered and reported by Err, never returned to the emitter, because
// losing progress events must not fail a run.
type Writer struct {
	now func() time.Time

	mu  sync.Mutex // serialises writes so lines never interleave
	w   io.Writer  // guarded by mu
	err error      // guarded by mu: the first write error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, now: time.Now}
}

// Emit writes e, stamping the current time when e has none and cutting
// free-text fields so a line stays well under MaxLine.
func (w *Writer) Emit(e Event) {
	if e.Data == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = w.now().UTC()
	}
	e.Data = Clamp(e.Data)
	b, err := json.Marshal(e)
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

// Size limits of free-text fields.
const (
	MaxFinalText = 4 << 10 // AgentFinished.FinalText
	MaxField     = 1 << 10 // names, commands, errors
	MaxTools     = 256     // AgentStarted.Tools entries
)

// Clamp cuts d's free-text fields to the size limits.
func Clamp(d Data) Data {
	switch e := d.(type) {
	case AgentToolCall:
		e.Name, e.Error = Truncate(e.Name, MaxField), Truncate(e.Error, MaxField)
		return e
	case AgentDenied:
		e.Command, e.Reason = Truncate(e.Command, MaxField), Truncate(e.Reason, MaxField)
		return e
	case ExecDenied:
		e.Program, e.Path, e.Reason = Truncate(e.Program, MaxField), Truncate(e.Path, MaxField), Truncate(e.Reason, MaxField)
		return e
	case AgentFinished:
		e.FinalText = Truncate(e.FinalText, MaxFinalText)
		e.Error, e.OutputFile = Truncate(e.Error, MaxField), Truncate(e.OutputFile, MaxField)
		return e
	case AgentStarted:
		if len(e.Tools) > MaxTools {
			e.Tools = e.Tools[:MaxTools]
		}
		return e
	}
	return d
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

// Send writes an event carrying d (the built-in agent's events: the host
// attributes them to their stage).
func (w *Writer) Send(d Data) { w.Emit(Event{Data: d}) }
